"""Requirement IDs (SSR9, FR-001, QR-002, REQ-BRK-0042, cES1001) for exact lookup.

A requirement ID is a short uppercase prefix, optional hyphenated parts, then a
number. Encodings, standards and protocol names have the same shape ("UTF-8",
"ISO-8859", "SHA256", "IPv4"), so their prefixes are excluded.
"""

from __future__ import annotations

import re

REQ_ID_RE = re.compile(r"(?<![\w.\-/])([A-Za-z]{0,2}[A-Z]{2,6}(?:-[A-Z]{1,6})*-?\d{1,5}[a-z]?)(?![\w\-]|\.\d)")
_STOP_PREFIXES = {
    "UTF", "UCS", "ISO", "IEC", "IEEE", "RFC", "ANSI", "ASCII", "SHA", "MD", "AES", "DES", "RSA", "ECC", "TLS", "SSL",
    "HTTP", "HTTPS", "IPV", "IP", "TCP", "UDP", "USB", "PCIE", "DDR", "LPDDR", "GPIO", "UART", "SPI", "IC", "CPU",
    "GPU", "MP", "MPEG", "JPEG", "WIN", "ISBN", "CVE", "TS", "TR", "GSM", "LTE", "NR", "REL", "ASN", "PDF", "CR",
    "PC", "QCI", "COVID", "UNICODE", "DOI", "X", "H", "G", "E", "V", "W", "R", "FIPS", "NIST", "ETSI", "ITU", "EN",
    "CRC", "ARM", "ARMV", "GPT", "HMAC", "CMAC", "SCRAM", "CHACHA", "CNSA", "AEAD", "RV", "QOS", "OPC", "MQTT",
    "HD", "UHD", "WPA", "WEP", "USIM", "IMEI", "IPX",
}  # fmt: skip


def find_req_ids(text: str) -> list[str]:
    found: dict[str, None] = {}
    for m in REQ_ID_RE.finditer(text):
        rid = m.group(1)
        prefix = re.match(r"[A-Za-z]+", rid).group(0).upper()  # type: ignore[union-attr]
        if prefix in _STOP_PREFIXES or not any(c.isupper() for c in rid[:2]):
            continue
        found[rid] = None
    return sorted(found)
