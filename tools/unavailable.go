package tools

// UnavailableVenueOut is a prediction-market venue that exists but that sibyl
// cannot trade on, with the reason.
type UnavailableVenueOut struct {
	Name   string `json:"name" jsonschema_description:"Short name of the venue."`
	Title  string `json:"title" jsonschema_description:"Human-readable venue name."`
	Reason string `json:"reason" jsonschema_description:"Why sibyl has no adapter for it."`
}

// unavailableVenues are the venues list_venues names as unavailable (facts as
// of late 2026, from the team's venue notes). The order is fixed.
var unavailableVenues = []UnavailableVenueOut{
	{Name: "drift", Title: "Drift BET", Reason: "its prediction markets were paused after the April 2026 exploit, and the relaunched program removes them"},
	{Name: "augur", Title: "Augur", Reason: "the DAO dissolved; there is no maintained trading API"},
	{Name: "gnosis", Title: "Gnosis (Omen / Azuro)", Reason: "on-chain conditional tokens with no order API comparable to a central limit order book for agents"},
	{Name: "robinhood", Title: "Robinhood prediction markets", Reason: "no public trading API"},
	{Name: "cryptocom", Title: "Crypto.com prediction markets", Reason: "no public trading API"},
}
