package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/stack-web/stack/config"
)

// explain prints `stack config --explain`: one line per effective value,
// KEY VALUE ORIGIN in columns, secrets redacted unless asked otherwise.
func (c *cmdEnv) explain(showSecrets bool) error {
	f, settings, err := config.Explain(c.loadOptions("up"), showSecrets)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "# effective configuration from %s, each value with its origin\n", f.Source)
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tORIGIN")
	for _, s := range settings {
		v := strings.ReplaceAll(s.Value, "\n", `\n`)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, s.Origin)
	}
	return tw.Flush()
}
