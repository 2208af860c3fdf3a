package cli

import "path/filepath"

// testBuild is the Build the tests run as: that of a binary built without
// linker stamps, as main passes it to Run.
var testBuild = Stamp("dev", "unknown", "")

// fixturesDir is the repository's fixtures/testdata folder.
var fixturesDir = filepath.Join("..", "..", "..", "..", "fixtures", "testdata")
