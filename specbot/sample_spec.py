"""A small brake-controller spec made with python-docx, for the demo and tests."""

from __future__ import annotations

from pathlib import Path

import docx

SAMPLE_NAME = "sample_brake_spec.docx"

SECTIONS: list[tuple[int, str, str, list[str]]] = [
    (1, "1", "Scope", ["This specification defines the electronic brake controller (EBC) for passenger vehicles."]),
    (1, "2", "Electrical Requirements", []),
    (
        2,
        "2.1",
        "Supply Voltage",
        [
            "REQ-BRK-0010: The EBC shall operate at supply voltages from 9 V to 16 V.",
            "Below 6 V the EBC shall enter the safe state within 20 ms.",
        ],
    ),
    (2, "2.2", "Current Consumption", ["REQ-BRK-0020: Quiescent current shall not exceed 100 uA with ignition off."]),
    (1, "3", "Functional Requirements", []),
    (
        2,
        "3.1",
        "Brake Pedal",
        [
            "REQ-BRK-0042: The maximum brake pedal force shall not exceed 500 N.",
            "The pedal travel sensor shall be sampled every 5 ms.",
        ],
    ),
    (
        3,
        "3.1.1",
        "Pedal Travel Sensor Fault",
        [
            "If the pedal travel sensor fails, the EBC shall switch to the redundant sensor within 10 ms "
            "and set diagnostic trouble code C1234.",
        ],
    ),
    (2, "3.2", "Warning Lamp", ["The brake warning lamp shall turn on within 100 ms of a detected fault."]),
    (1, "4", "진단 요구사항", []),
    (
        2,
        "4.1",
        "고장 코드 저장",
        [
            "SSR9: 제어기는 고장 코드를 비휘발성 메모리에 저장해야 한다.",
            "저장된 고장 코드는 최소 40회의 점화 사이클 동안 유지되어야 한다.",
        ],
    ),
    (2, "4.2", "비밀번호 보호", ["진단 세션 진입 시 비밀번호를 요구해야 한다. 비밀번호는 8자 이상이어야 한다."]),
]

TIMING_TABLE = [
    ["Requirement", "Signal", "Period (ms)"],
    ["REQ-BRK-0100", "Wheel speed", "10"],
    ["REQ-BRK-0101", "Pedal travel", "5"],
]


def make_sample_spec(path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    d = docx.Document()
    d.add_paragraph("Electronic Brake Controller Specification", style="Title")
    for level, number, title, paras in SECTIONS:
        d.add_heading(f"{number}\t{title}", level=level)
        for p in paras:
            d.add_paragraph(p)
        if number == "3.1":
            t = d.add_table(rows=len(TIMING_TABLE), cols=3)
            for r, row in enumerate(TIMING_TABLE):
                for c, val in enumerate(row):
                    t.cell(r, c).text = val
    d.save(str(path))
    return path


DEMO_QUESTIONS = [
    "What is the maximum brake pedal force?",
    "What happens if the pedal travel sensor fails?",
    "고장 코드는 어디에 저장해야 하나요?",
]
