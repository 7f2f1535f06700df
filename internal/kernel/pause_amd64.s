//go:build amd64

#include "textflag.h"

// func spinPause()
// One PAUSE: tells the core this is a spin-wait (saves power, and frees
// the sibling hyperthread) while a pool thread polls for its next loop.
TEXT ·spinPause(SB), NOSPLIT, $0-0
	PAUSE
	RET
