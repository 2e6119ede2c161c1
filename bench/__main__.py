"""``python -m bench``: measure the offline evaluation and write bench/results/results.json."""

from bench.run import main

raise SystemExit(main())
