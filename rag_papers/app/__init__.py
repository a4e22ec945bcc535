"""Front ends: the command line, the chat page and their rendering. Nothing imports this layer."""
