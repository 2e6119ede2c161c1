"""``python -m enclave``: the enclave's command line."""

from enclave.cli import main

raise SystemExit(main())
