#!/usr/bin/env bash
# Fetch and verify data sets into this directory, as cs231n's get_datasets.sh did.
#   ./get_datasets.sh                 Fashion-MNIST (the kit's default)
#   ./get_datasets.sh mnist cifar10   others by name; `all` fetches every one
# The work is done by `python -m cs231n_bn fetch` (see `python -m cs231n_bn fetch --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[ -x "$python" ] || python=python3
if [ "$#" -eq 0 ]; then
    set -- fashion-mnist
fi
exec "$python" -m cs231n_bn fetch "$@"
