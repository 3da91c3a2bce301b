# The two commands of the README. Both install PostgreSQL from Debian when it is missing.
.PHONY: demo test build release bench-build

# A demo region on an embedded PostgreSQL (or on REGIO_DATABASE_URL when set). Ctrl-C stops it.
demo:
	scripts/ensure-postgres.sh
	swift build --product regio
	.build/debug/regio demo

# Every test, against a throwaway PostgreSQL cluster.
test:
	scripts/test.sh

build:
	swift build

release:
	swift build -c release --product regio
