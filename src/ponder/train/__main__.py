from ponder.train.run import main

raise SystemExit(main())
