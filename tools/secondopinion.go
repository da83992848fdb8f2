package tools

import (
	"context"
	"log/slog"
	"strings"

	"github.com/sibylmcp/sibyl"
)

// OtherGrades are another grader's grades of one token (Token Metrics'), shown
// beside sibyl's own as a second opinion; a grade not given is nil.
type OtherGrades struct {
	Source        string // such as "token_metrics"
	TraderGrade   *float64
	InvestorGrade *float64
	Grade         *float64 // the provider's overall grade (Token Metrics' TM Grade)
	Signal        string
	AsOf          string // YYYY-MM-DD, when given
}

// SecondOpinionFunc returns another grader's grades of symbols (a token it
// does not grade is absent), or a *sibyl.Error saying why it cannot (no key, a
// refused key, a rate limit, an exhausted quota).
type SecondOpinionFunc func(ctx context.Context, symbols []string) (map[string]OtherGrades, error)

// SecondOpinionOut is another grader's view of a token, labelled by source.
type SecondOpinionOut struct {
	Source        string       `json:"source" jsonschema_description:"Who graded: token_metrics (Token Metrics' own grades, not computed by sibyl)."`
	TraderGrade   *float64     `json:"trader_grade,omitempty" jsonschema_description:"The source's short-term (trader) grade, 0-100, when it gives one."`
	InvestorGrade *float64     `json:"investor_grade,omitempty" jsonschema_description:"The source's long-term (investor) grade, 0-100, when it gives one."`
	Grade         *float64     `json:"grade,omitempty" jsonschema_description:"The source's overall grade, 0-100 (Token Metrics' TM Grade), when it gives one."`
	Signal        string       `json:"signal,omitempty" jsonschema_description:"The source's own signal word, as it gives it."`
	AsOf          string       `json:"as_of,omitempty" jsonschema_description:"The day of the source's grades (YYYY-MM-DD), when it says."`
	Error         *ErrorObject `json:"error,omitempty" jsonschema_description:"Why the source's grades are missing (no key on this server, a refused key, a rate limit, an exhausted quota, a token it does not grade); sibyl's own grades are unaffected."`
}

// secondOpinions asks d.SecondOpinion for symbols and returns each token's
// SecondOpinionOut: its grades, or the error that kept them away. It never
// fails: sibyl's own answer does not depend on it.
func (d *Deps) secondOpinions(ctx context.Context, tool string, symbols []string, log *slog.Logger) map[string]*SecondOpinionOut {
	out := make(map[string]*SecondOpinionOut, len(symbols))
	fail := func(err error) {
		e := errorObject(ctx, tool, err, log)
		e.Field = ""
		for _, s := range symbols {
			out[s] = &SecondOpinionOut{Source: "token_metrics", Error: &e}
		}
	}
	if d.SecondOpinion == nil {
		fail(sibyl.Errorf(sibyl.Unauthorized, "no second opinion is configured on this server (Token Metrics needs TOKEN_METRICS_API_KEY)"))
		return out
	}
	got, err := d.SecondOpinion(ctx, symbols)
	if err != nil {
		fail(err)
		return out
	}
	for _, s := range symbols {
		g, ok := got[strings.ToUpper(s)]
		if !ok {
			e := ErrorObject{Code: string(sibyl.NotFound), Message: "Token Metrics has no grade for " + s}
			out[s] = &SecondOpinionOut{Source: "token_metrics", Error: &e}
			continue
		}
		out[s] = &SecondOpinionOut{Source: g.Source, TraderGrade: g.TraderGrade, InvestorGrade: g.InvestorGrade, Grade: g.Grade, Signal: g.Signal, AsOf: g.AsOf}
	}
	return out
}
