package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
)

// The bash and zsh scripts ask codrive itself what may come next
// (urfave/cli's --generate-bash-completion, given after the words typed so
// far), so they follow the commands and flags of the binary installed.
const bashCompletion = `# bash completion for codrive
# load it with:   source <(codrive completion bash)
# or install it:  codrive completion bash > /etc/bash_completion.d/codrive
_codrive_complete() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  local opts
  if [[ $cur == -* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _codrive_complete codrive
`

const zshCompletion = `#compdef codrive
# zsh completion for codrive
# load it with:   source <(codrive completion zsh)
# or install it as _codrive in a directory of your $fpath
_codrive() {
  local -a opts
  local cur=${words[CURRENT]}
  if [[ $cur == -* ]]; then
    opts=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ -n ${opts[1]} ]]; then
    _describe 'codrive' opts
  else
    _files
  fi
}
compdef _codrive codrive
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `   source <(codrive completion bash)
   codrive completion zsh > "${fpath[1]}/_codrive"
   codrive completion fish > ~/.config/fish/completions/codrive.fish`,
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("usage: codrive completion bash|zsh|fish", exitcode.Usage)
			}
			return writeCompletion(c, c.Args().First())
		},
	}
}

func writeCompletion(c *cli.Context, shell string) error {
	var w io.Writer = c.App.Writer
	switch shell {
	case "bash":
		_, err := io.WriteString(w, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(w, zshCompletion)
		return err
	case "fish":
		s, err := c.App.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("fish completion: %w", err)
		}
		_, err = io.WriteString(w, s)
		return err
	}
	return cli.Exit(fmt.Sprintf("unknown shell %q: want bash, zsh or fish", shell), exitcode.Usage)
}
