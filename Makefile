.PHONY: demo test build docs release emulator

# Build, start the local emulator, apply examples/complete, show the outputs.
demo:
	bash .ci/demo

# The demo's and the tests' AWS emulator, alone in the foreground: prints the
# endpoint and the variables to export to try your own configurations against it.
emulator:
	bash .ci/emulator

# Every test (what CI runs).
test:
	bash .ci/test

build:
	cargo build --release

# The release for this platform in dist/: zip, SHA256SUMS (signed when
# GPG_FINGERPRINT is set), registry manifest, and a provider mirror in dist/mirror.
release:
	bash .ci/release
