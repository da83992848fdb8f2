package pmtest

import "encoding/hex"

func hexEncode(b [32]byte) string { return hex.EncodeToString(b[:]) }

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }
