package paper

import (
	"fmt"
	"strconv"
	"time"
)

// eventInst is one occurrence of an event template: its id suffix, a label for
// the question and its close time.
type eventInst struct {
	code  string
	label string
	close time.Time
	year  int
}

// eventTemplate generates a recurring event market. Its probability path and
// result are simulated from the seed; they are not tied to the real event.
type eventTemplate struct {
	key      string
	category string
	base     float64       // typical probability of Yes
	horizon  time.Duration // listed this long before close
	weight   float64       // relative market-maker size
	sched    func(from, to time.Time) []eventInst
	question func(in eventInst) string
	rules    string // how the real-world version resolves; the paper note is appended
}

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// nthWeekday returns the n-th (1-based; -1 = last) weekday wd of a month.
func nthWeekday(y int, m time.Month, wd time.Weekday, n int) int {
	if n < 0 {
		last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC)
		return last.Day() - (int(last.Weekday())-int(wd)+7)%7
	}
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	return 1 + (int(wd)-int(first.Weekday())+7)%7 + 7*(n-1)
}

// monthly yields one instance per month, closing on the day dayOf returns.
func monthly(dayOf func(y int, m time.Month) int, hour, min int, labelPrev bool) func(from, to time.Time) []eventInst {
	return func(from, to time.Time) []eventInst {
		var out []eventInst
		for t := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0); !t.After(to); t = t.AddDate(0, 1, 0) {
			c := utc(t.Year(), t.Month(), dayOf(t.Year(), t.Month()), hour, min)
			if c.Before(from) || c.After(to) {
				continue
			}
			lt := t
			if labelPrev {
				lt = t.AddDate(0, -1, 0)
			}
			out = append(out, eventInst{code: lt.Format("2006-01"), label: lt.Format("January 2006"), close: c, year: lt.Year()})
		}
		return out
	}
}

// meetings yields instances in the given months (a central bank's schedule).
func meetings(months []time.Month, dayOf func(y int, m time.Month) int, hour, min int) func(from, to time.Time) []eventInst {
	return func(from, to time.Time) []eventInst {
		var out []eventInst
		for y := from.Year() - 1; y <= to.Year()+1; y++ {
			for _, m := range months {
				c := utc(y, m, dayOf(y, m), hour, min)
				if c.Before(from) || c.After(to) {
					continue
				}
				out = append(out, eventInst{code: c.Format("2006-01"), label: c.Format("January 2006"), close: c, year: y})
			}
		}
		return out
	}
}

// yearly yields one instance a year; codeOf names it from the year.
func yearly(m time.Month, dayOf func(y int) int, hour, min int, every int) func(from, to time.Time) []eventInst {
	return func(from, to time.Time) []eventInst {
		var out []eventInst
		for y := from.Year() - 1; y <= to.Year()+1; y++ {
			if every > 1 && y%every != 0 {
				continue
			}
			c := utc(y, m, dayOf(y), hour, min)
			if c.Before(from) || c.After(to) {
				continue
			}
			out = append(out, eventInst{code: strconv.Itoa(y), label: strconv.Itoa(y), close: c, year: y})
		}
		return out
	}
}

// quarterly yields one instance per quarter, closing days after quarter end.
func quarterly(after int, hour, min int) func(from, to time.Time) []eventInst {
	return func(from, to time.Time) []eventInst {
		var out []eventInst
		for y := from.Year() - 1; y <= to.Year()+1; y++ {
			for q := 1; q <= 4; q++ {
				end := time.Date(y, time.Month(3*q)+1, 1, 0, 0, 0, 0, time.UTC)
				c := end.AddDate(0, 0, after).Add(time.Duration(hour)*time.Hour + time.Duration(min)*time.Minute)
				if c.Before(from) || c.After(to) {
					continue
				}
				out = append(out, eventInst{code: fmt.Sprintf("%d-Q%d", y, q), label: fmt.Sprintf("Q%d %d", q, y), close: c, year: y})
			}
		}
		return out
	}
}

func fixedDay(d int) func(int) int { return func(int) int { return d } }

func roman(n int) string {
	vals := []int{1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1}
	syms := []string{"M", "CM", "D", "CD", "C", "XC", "L", "XL", "X", "IX", "V", "IV", "I"}
	s := ""
	for i, v := range vals {
		for n >= v {
			s += syms[i]
			n -= v
		}
	}
	return s
}

func season(y int) string { return fmt.Sprintf("%d-%02d", y-1, y%100) }

var fomcMonths = []time.Month{1, 3, 4, 6, 7, 9, 10, 12}

func fomcDay(y int, m time.Month) int {
	switch m {
	case 3, 6, 9:
		return nthWeekday(y, m, time.Wednesday, 3)
	case 12:
		return nthWeekday(y, m, time.Wednesday, 2)
	}
	return nthWeekday(y, m, time.Wednesday, -1)
}

func ecbDay(y int, m time.Month) int { return nthWeekday(y, m, time.Thursday, 2) }

func lastDay(y int, m time.Month) int { return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day() }

// electionDay is the Tuesday after the first Monday of November.
func electionDay(y int) int { return nthWeekday(y, time.November, time.Monday, 1) + 1 }

// eventTemplates is the event-market universe (macro, sports, politics).
var eventTemplates = []*eventTemplate{
	{key: "FED-CUT", category: "macro", base: 0.40, horizon: 120 * day, weight: 1.0,
		sched:    meetings(fomcMonths, fomcDay, 18, 0),
		question: func(in eventInst) string { return "Will the Fed cut rates at the " + in.label + " FOMC meeting?" },
		rules:    "Resolves Yes if the Federal Open Market Committee lowers the upper bound of the federal funds target range at this meeting (announcement at 18:00 UTC), otherwise No."},
	{key: "FED-HIKE", category: "macro", base: 0.06, horizon: 120 * day, weight: 0.5,
		sched:    meetings(fomcMonths, fomcDay, 18, 0),
		question: func(in eventInst) string { return "Will the Fed raise rates at the " + in.label + " FOMC meeting?" },
		rules:    "Resolves Yes if the Federal Open Market Committee raises the upper bound of the federal funds target range at this meeting (announcement at 18:00 UTC), otherwise No."},
	{key: "ECB-CUT", category: "macro", base: 0.30, horizon: 120 * day, weight: 0.6,
		sched:    meetings(fomcMonths, ecbDay, 12, 15),
		question: func(in eventInst) string { return "Will the ECB cut its deposit rate at the " + in.label + " meeting?" },
		rules:    "Resolves Yes if the European Central Bank lowers the deposit facility rate at this monetary policy meeting (decision at 12:15 UTC), otherwise No."},
	{key: "CPI-ABOVE-3", category: "macro", base: 0.35, horizon: 45 * day, weight: 0.8,
		sched: monthly(func(int, time.Month) int { return 12 }, 12, 30, true),
		question: func(in eventInst) string {
			return "Will US CPI inflation for " + in.label + " come in above 3.0% year over year?"
		},
		rules: "Resolves Yes if the BLS headline CPI-U 12-month change for the month, as first published (12:30 UTC on the 12th of the following month), is above 3.0%, otherwise No."},
	{key: "UNEMPLOYMENT-4.5", category: "macro", base: 0.30, horizon: 45 * day, weight: 0.6,
		sched: monthly(func(y int, m time.Month) int { return nthWeekday(y, m, time.Friday, 1) }, 12, 30, true),
		question: func(in eventInst) string {
			return "Will the US unemployment rate for " + in.label + " be 4.5% or higher?"
		},
		rules: "Resolves Yes if the BLS Employment Situation report for the month (first Friday of the following month, 12:30 UTC) shows an unemployment rate of 4.5% or higher, otherwise No."},
	{key: "GDP-ABOVE-2", category: "macro", base: 0.50, horizon: 120 * day, weight: 0.6,
		sched: quarterly(29, 12, 30),
		question: func(in eventInst) string {
			return "Will US real GDP growth for " + in.label + " be above 2.0% (annualised, advance estimate)?"
		},
		rules: "Resolves Yes if the BEA advance estimate of annualised real GDP growth for the quarter, published about a month after the quarter ends (close 12:30 UTC), is above 2.0%, otherwise No."},
	{key: "US-RECESSION", category: "macro", base: 0.20, horizon: 365 * day, weight: 0.7,
		sched: yearly(time.December, fixedDay(31), 23, 59, 1),
		question: func(in eventInst) string {
			return "Will the US economy enter a recession in " + in.label + "?"
		},
		rules: "Resolves Yes if two consecutive quarters of negative real GDP growth are reported for quarters in the year, or the NBER declares a recession beginning in it, by 23:59 UTC on December 31, otherwise No."},
	{key: "SUPERBOWL-KC", category: "sports", base: 0.12, horizon: 300 * day, weight: 0.8,
		sched: yearly(time.February, func(y int) int { return nthWeekday(y, time.February, time.Sunday, 2) }, 23, 59, 1),
		question: func(in eventInst) string {
			return "Will the Kansas City Chiefs win Super Bowl " + roman(in.year-1966) + "?"
		},
		rules: "Resolves Yes if the Kansas City Chiefs win the Super Bowl played in February of this year, otherwise No (including if they do not reach it)."},
	{key: "NBA-CELTICS", category: "sports", base: 0.15, horizon: 240 * day, weight: 0.6,
		sched:    yearly(time.June, fixedDay(20), 23, 59, 1),
		question: func(in eventInst) string { return "Will the Boston Celtics win the " + in.label + " NBA Finals?" },
		rules:    "Resolves Yes if the Boston Celtics win the NBA Finals of this season, otherwise No."},
	{key: "WS-DODGERS", category: "sports", base: 0.18, horizon: 210 * day, weight: 0.6,
		sched: yearly(time.November, fixedDay(2), 23, 59, 1),
		question: func(in eventInst) string {
			return "Will the Los Angeles Dodgers win the " + in.label + " World Series?"
		},
		rules: "Resolves Yes if the Los Angeles Dodgers win this year's World Series, otherwise No."},
	{key: "UCL-REALMADRID", category: "sports", base: 0.17, horizon: 270 * day, weight: 0.6,
		sched: yearly(time.May, fixedDay(31), 21, 0, 1),
		question: func(in eventInst) string {
			return "Will Real Madrid win the " + season(in.year) + " UEFA Champions League?"
		},
		rules: "Resolves Yes if Real Madrid win the final of the season's UEFA Champions League, otherwise No."},
	{key: "EPL-ARSENAL", category: "sports", base: 0.30, horizon: 270 * day, weight: 0.6,
		sched:    yearly(time.May, fixedDay(24), 17, 0, 1),
		question: func(in eventInst) string { return "Will Arsenal win the " + season(in.year) + " Premier League?" },
		rules:    "Resolves Yes if Arsenal finish first in the season's Premier League table, otherwise No."},
	{key: "F1-VERSTAPPEN", category: "sports", base: 0.30, horizon: 280 * day, weight: 0.5,
		sched: yearly(time.December, fixedDay(7), 15, 0, 1),
		question: func(in eventInst) string {
			return "Will Max Verstappen win the " + in.label + " Formula 1 Drivers' Championship?"
		},
		rules: "Resolves Yes if Max Verstappen is the Formula 1 World Drivers' Champion of the season, otherwise No."},
	{key: "WIMBLEDON-ALCARAZ", category: "sports", base: 0.35, horizon: 180 * day, weight: 0.5,
		sched: yearly(time.July, func(y int) int { return nthWeekday(y, time.July, time.Sunday, 2) }, 17, 0, 1),
		question: func(in eventInst) string {
			return "Will Carlos Alcaraz win the " + in.label + " Wimbledon men's singles title?"
		},
		rules: "Resolves Yes if Carlos Alcaraz wins the Wimbledon gentlemen's singles championship, otherwise No."},
	{key: "HOUSE-DEM", category: "politics", base: 0.55, horizon: 400 * day, weight: 1.0,
		sched: yearly(time.November, electionDay, 23, 59, 2),
		question: func(in eventInst) string {
			return "Will Democrats win control of the US House in the " + in.label + " elections?"
		},
		rules: "Resolves Yes if Democrats win a majority (218+) of US House seats in the November general election, as projected by major networks; the market closes on election day, 23:59 UTC."},
	{key: "SENATE-DEM", category: "politics", base: 0.35, horizon: 400 * day, weight: 0.8,
		sched: yearly(time.November, electionDay, 23, 59, 2),
		question: func(in eventInst) string {
			return "Will Democrats win control of the US Senate in the " + in.label + " elections?"
		},
		rules: "Resolves Yes if Democrats (with independents who caucus with them) hold 51+ Senate seats after the November general election, otherwise No."},
	{key: "SHUTDOWN", category: "politics", base: 0.15, horizon: 90 * day, weight: 0.6,
		sched: quarterly(-1, 23, 59),
		question: func(in eventInst) string {
			return "Will the US federal government shut down before the end of " + in.label + "?"
		},
		rules: "Resolves Yes if a lapse in appropriations causes a federal government shutdown that begins during the quarter, before 23:59 UTC on its last day, otherwise No."},
	{key: "APPROVAL-45", category: "politics", base: 0.25, horizon: 40 * day, weight: 0.5,
		sched: monthly(lastDay, 23, 59, false),
		question: func(in eventInst) string {
			return "Will the US president's approval rating be above 45% at the end of " + in.label + "?"
		},
		rules: "Resolves Yes if the RealClearPolitics average of presidential job approval is above 45.0% at 23:59 UTC on the last day of the month, otherwise No."},
	{key: "UK-PM-STARMER", category: "politics", base: 0.70, horizon: 365 * day, weight: 0.5,
		sched: yearly(time.December, fixedDay(31), 23, 59, 1),
		question: func(in eventInst) string {
			return "Will Keir Starmer still be UK Prime Minister on December 31, " + in.label + "?"
		},
		rules: "Resolves Yes if Keir Starmer holds the office of Prime Minister of the United Kingdom at 23:59 UTC on December 31, otherwise No."},
}

// eventTags are words people search the event markets by that their
// questions lack (search.Rank matches them like the question's own words).
var eventTags = map[string][]string{
	"FED-CUT":           {"Federal Reserve", "interest rates", "FOMC", "Powell", "monetary policy"},
	"FED-HIKE":          {"Federal Reserve", "interest rates", "FOMC", "Powell", "monetary policy"},
	"ECB-CUT":           {"European Central Bank", "interest rates", "eurozone", "Lagarde", "monetary policy"},
	"CPI-ABOVE-3":       {"inflation", "consumer prices", "BLS"},
	"UNEMPLOYMENT-4.5":  {"jobs report", "labor market", "payrolls", "BLS"},
	"GDP-ABOVE-2":       {"economic growth", "economy", "BEA"},
	"US-RECESSION":      {"economy", "NBER", "GDP"},
	"SUPERBOWL-KC":      {"NFL", "American football", "Chiefs", "Kansas City"},
	"NBA-CELTICS":       {"basketball", "Celtics", "Boston"},
	"WS-DODGERS":        {"MLB", "baseball", "Dodgers"},
	"UCL-REALMADRID":    {"football", "soccer", "UEFA"},
	"EPL-ARSENAL":       {"football", "soccer", "EPL"},
	"F1-VERSTAPPEN":     {"F1", "motor racing", "Red Bull"},
	"WIMBLEDON-ALCARAZ": {"tennis", "grand slam"},
	"HOUSE-DEM":         {"election", "midterms", "Congress", "Democrats", "Republicans"},
	"SENATE-DEM":        {"election", "midterms", "Congress", "Democrats", "Republicans"},
	"SHUTDOWN":          {"Congress", "budget", "appropriations"},
	"APPROVAL-45":       {"Trump", "president", "approval rating", "polls", "White House"},
	"UK-PM-STARMER":     {"United Kingdom", "UK politics", "Labour"},
}

const eventPaperNote = " Paper venue: this is a simulated market. Its price path and result are drawn deterministically from the venue's seed and are NOT tied to the real-world event; it settles at its close time plus the venue's settlement delay and winning contracts pay $1."
