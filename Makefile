.PHONY: demo test build docs

# Build, start the local emulator, apply examples/complete, show the outputs.
demo:
	bash .ci/demo

# Every test (what CI runs).
test:
	bash .ci/test

build:
	cargo build --release
