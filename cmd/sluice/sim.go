package main

import (
	"context"
)

func cmdSim(ctx context.Context, c cmdIO, args []string) error {
	return usageError{"sim: not yet"}
}

func cmdDemo(ctx context.Context, c cmdIO, args []string) error {
	return usageError{"demo: not yet"}
}
