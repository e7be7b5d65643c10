"""The pulse: reading it from skin colour (``rppg``, ``signals``), synthesising one (``synth``),
and hiding or replacing it in the outgoing video (``edit``)."""
