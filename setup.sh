#!/usr/bin/env bash
# Set-up for a fresh machine, safe to run again: a virtual environment in .venv with the requirements and this
# package (editable), then the default data set (Fashion-MNIST) fetched and verified into datasets/.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "Creating .venv with $($PYTHON --version)"
    "$PYTHON" -m venv .venv
fi
# Reinstall only when the requirements or the project metadata changed since the last successful set-up.
stamp=.venv/.cs231n_bn-setup
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt
    .venv/bin/python -m pip install --quiet --no-deps --editable .
    echo "$want" > "$stamp"
fi
# Containers and cloud machines often run everything as root, where JupyterLab refuses to start unless told
# otherwise; allow it for this environment only.
if [ "$(id -u)" = 0 ]; then
    mkdir -p .venv/etc/jupyter
    echo '{"ServerApp": {"allow_root": true}}' > .venv/etc/jupyter/jupyter_server_config.json
fi
.venv/bin/python -m cs231n_bn fetch fashion-mnist
