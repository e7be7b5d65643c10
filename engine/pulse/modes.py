"""What the outgoing video may do with the user's heart rate (light: read by the settings)."""

PULSE_MODES = ("keep", "hide", "replace")  # keep the real pulse | remove it | show TARGET_HR instead
TARGET_HR_RANGE = (40.0, 180.0)  # bpm a replaced pulse may show
