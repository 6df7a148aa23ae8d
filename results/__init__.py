"""Results: sweep folders as tables, curves and pages; the posts' recipes; stale-table checks."""
