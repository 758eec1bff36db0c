"""One module per thing the bench measures; each imports bench.kit, never another goal."""
