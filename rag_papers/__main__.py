import sys

from rag_papers.app.cli import main

sys.exit(main())
