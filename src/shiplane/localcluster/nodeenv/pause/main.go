// pause is the real node's sandbox ("pause") container process: it holds a pod's
// namespaces open and exits on SIGTERM or SIGINT. Built here so no image is pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
