//! Cross-packet tests of the codec: byte-annotated encodings of every packet in both
//! versions, incremental decoding, and one test per malformation the decoder refuses.
