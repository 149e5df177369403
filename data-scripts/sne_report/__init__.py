"""Drawing `sne report`s: data-scripts/report.py is the entry point."""
