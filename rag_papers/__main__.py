import sys

from rag_papers.cli import main

sys.exit(main())
