package paper

import "math"

// Deterministic randomness: every random number of the simulated world is a
// pure function of the seed and a few integers (symbol, step index, stream),
// so any point of the world can be computed without simulating from the start
// and without depending on the order of calls.

const (
	streamDaily   uint64 = 1
	streamJump    uint64 = 2
	streamJumpSz  uint64 = 3
	streamHour    uint64 = 4
	streamMinute  uint64 = 5
	streamVolume  uint64 = 6
	streamRange   uint64 = 7
	streamMM      uint64 = 8
	streamEvent   uint64 = 9
	streamNoise   uint64 = 10
	streamMarket  uint64 = 11
	streamSpread  uint64 = 12
	streamLiquid  uint64 = 13
	streamOutcome uint64 = 14
)

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hash4 mixes four words into one.
func hash4(a, b, c, d uint64) uint64 {
	h := mix64(a + 0x9e3779b97f4a7c15)
	h = mix64(h ^ (b + 0x632be59bd9b4e019))
	h = mix64(h ^ (c + 0x85ebca77c2b2ae63))
	h = mix64(h ^ (d + 0xc2b2ae3d27d4eb4f))
	return h
}

// strHash is FNV-1a over s.
func strHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// unit maps a hash to a uniform number in (0,1).
func unit(h uint64) float64 {
	return (float64(h>>11) + 0.5) / (1 << 53)
}

// gauss maps a hash to a standard normal number (Box-Muller).
func gauss(h uint64) float64 {
	u1 := unit(h)
	u2 := unit(mix64(h ^ 0xd6e8feb86659fd93))
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// normCDF is the standard normal distribution function.
func normCDF(x float64) float64 {
	return 0.5 * math.Erfc(-x/math.Sqrt2)
}
