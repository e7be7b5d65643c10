"""User-facing layer of deid-vcam: the ``vcam-run`` CLI, its config file, the Qt preview."""
