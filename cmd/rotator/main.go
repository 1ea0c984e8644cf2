// Command rotator keeps API keys fresh: see README.md.
package main

import "os"

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = ""
	revision = ""
)

func main() {
	os.Exit(newCLI(os.Stdout, os.Stderr).run(os.Args[1:]))
}
