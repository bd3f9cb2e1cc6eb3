from colorstudio.cli import main

raise SystemExit(main())
