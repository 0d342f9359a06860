// Command notaplugin is a program that is not a wogate plugin: it prints a
// line that is not a go-plugin handshake and exits. Tests use it to check
// that the gateway says so clearly.
package main

import "fmt"

func main() {
	fmt.Println("hello from a program that is not a plugin")
}
