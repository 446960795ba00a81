import { Argument, Command, type Option } from 'commander';
import type { Deps } from '../deps.js';
import { CLIENT_IDS } from './clients/registry.js';

/** One command as completion sees it: its words, flags and the values a flag or operand takes. */
interface CommandShape {
  path: string[];
  description: string;
  flags: { long: string; description: string; choices?: readonly string[]; takesValue: boolean }[];
  /** Words for the first operand (sub-commands, or choices such as config's clients). */
  operands: readonly string[];
}

function flagsOf(cmd: Command): CommandShape['flags'] {
  const flags = cmd.options
    .filter((o): o is Option & { long: string } => typeof o.long === 'string')
    .map((o) => ({ long: o.long, description: o.description, choices: o.argChoices, takesValue: o.required || o.optional }));
  return [...flags, { long: '--help', description: 'show help', takesValue: false }];
}

/** Every command below `program`, from its commander definition. */
export function commandShapes(program: Command): CommandShape[] {
  const out: CommandShape[] = [];
  const visit = (cmd: Command, path: string[]): void => {
    const args = (cmd as unknown as { registeredArguments: readonly Argument[] }).registeredArguments ?? [];
    const operands = cmd.commands.length ? cmd.commands.map((c) => c.name()) : path[0] === 'config' ? CLIENT_IDS : (args[0]?.argChoices ?? []);
    out.push({ path, description: cmd.description(), flags: flagsOf(cmd), operands });
    for (const sub of cmd.commands) visit(sub, [...path, sub.name()]);
  };
  visit(program, []);
  return out;
}

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A bash completion function (also used by zsh through bashcompinit). */
export function bashCompletion(program: Command): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
  const shapes = commandShapes(program);
  const valueFlags = new Map<string, readonly string[]>();
  for (const s of shapes) for (const f of s.flags) if (f.takesValue) valueFlags.set(f.long, f.choices ?? valueFlags.get(f.long) ?? []);
  const prevCases = [...valueFlags]
    .map(([flag, choices]) => {
      if (choices.length) return `    ${flag}) COMPREPLY=($(compgen -W ${q(choices.join(' '))} -- "$cur")); return ;;`;
      // A file name for file flags; any other value (an id, a URL, a number) has nothing to offer.
      return /-(file|log)$/.test(flag) ? `    ${flag}) COMPREPLY=($(compgen -f -- "$cur")); return ;;` : `    ${flag}) COMPREPLY=(); return ;;`;
    })
    .join('\n');
  const cmdCases = shapes
    .map((s) => `    ${q(s.path.join(' '))}) words=${q([...s.operands, ...s.flags.map((f) => f.long)].join(' '))} ;;`)
    .join('\n');
  const names = shapes.filter((s) => s.path.length > 0).map((s) => s.path.at(-1)!);
  return `# ${name} completion for bash (generated from its command definitions)
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" path="" w words
  for w in "\${COMP_WORDS[@]:1:COMP_CWORD-1}"; do
    case "$w" in
      ${[...new Set(names)].join('|')}) path="\${path:+$path }$w" ;;
    esac
  done
  case "$prev" in
${prevCases}
  esac
  case "$path" in
${cmdCases}
    *) words="" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F ${fn} ${name}
`;
}

/** zsh: the bash function through zsh's bashcompinit. */
export function zshCompletion(program: Command): string {
  return `#compdef ${program.name()}
# ${program.name()} completion for zsh: load with  source <(${program.name()} completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program)}`;
}

/** fish: one `complete` line per command and flag. */
export function fishCompletion(program: Command): string {
  const name = program.name();
  const shapes = commandShapes(program);
  const lines = [`# ${name} completion for fish (generated from its command definitions)`, `complete -c ${name} -f`];
  const top = shapes.filter((s) => s.path.length === 1).map((s) => s.path[0]!);
  for (const s of shapes) {
    const condition = s.path.length === 0 ? `not __fish_seen_subcommand_from ${top.join(' ')}` : `__fish_seen_subcommand_from ${s.path.at(-1)}`;
    const subs = shapes.filter((c) => c.path.length === s.path.length + 1 && c.path.slice(0, -1).join(' ') === s.path.join(' '));
    for (const sub of subs) lines.push(`complete -c ${name} -n ${q(condition)} -a ${q(sub.path.at(-1)!)} -d ${q(sub.description)}`);
    if (subs.length === 0 && s.operands.length) lines.push(`complete -c ${name} -n ${q(condition)} -a ${q(s.operands.join(' '))}`);
    for (const f of s.flags) {
      const value = f.takesValue ? (f.choices?.length ? ` -x -a ${q(f.choices.join(' '))}` : ' -r') : '';
      lines.push(`complete -c ${name} -n ${q(condition)} -l ${f.long.slice(2)}${value} -d ${q(f.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `completion bash|zsh|fish`: print the script for the shell. */
export function completionCommand(deps: Deps, setExitCode: (code: number) => void): Command {
  const cmd = new Command('completion')
    .description('print a shell completion script (bash, zsh or fish) built from the command definitions')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh', 'fish']));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ source <(mcp-keybridge completion bash)                 # bash, this shell
  $ mcp-keybridge completion bash > ~/.local/share/bash-completion/completions/mcp-keybridge
  $ source <(mcp-keybridge completion zsh)                  # zsh (add to ~/.zshrc)
  $ mcp-keybridge completion fish > ~/.config/fish/completions/mcp-keybridge.fish`,
  );
  cmd.action((shell: 'bash' | 'zsh' | 'fish') => {
    const program = cmd.parent ?? cmd;
    const text = shell === 'bash' ? bashCompletion(program) : shell === 'zsh' ? zshCompletion(program) : fishCompletion(program);
    deps.stdout.write(text);
    setExitCode(0);
  });
  return cmd;
}
