"""Key-gated, reversible protection: a key file (:mod:`.keys`), the key's block scramble of a
square around each face with a marker ring that finds the square again in a decoded recording
(:mod:`.scramble`), and the undoing of it (:mod:`.restore`). Only the key's holder can undo it;
the scramble survives I420 and H.264 because its blocks and square lie on the codec's 8-pixel grid."""
