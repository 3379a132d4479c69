from replywindow_cli.main import main

raise SystemExit(main())
