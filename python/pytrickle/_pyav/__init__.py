"""Upstream PyTrickle's PyAV-based modules (decoder, encoder, media), fenced off from the live
path: TrickleProtocol runs the C++ engine and never imports them. pytrickle.decoder,
pytrickle.encoder and pytrickle.media are these modules under upstream's names."""
