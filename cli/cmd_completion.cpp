// `apono completion bash|zsh|fish|powershell`: prints a shell completion script. The script is
// generated from the live CLI11 command tree when the command runs, so every command and flag
// anyone registers is completed without a list kept by hand here.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.hpp"

namespace apono::cli {

namespace {

/// A flag as the shells see it.
struct flag_spec {
  std::vector<std::string> names;   ///< as typed: "-o", "--output"
  std::string description;          ///< one line
  bool takes_value = false;         ///< false for switches such as --no-browser
  std::vector<std::string> values;  ///< values to offer; empty = any (the shell's default: files)
};

/// A positional argument.
struct argument_spec {
  std::string name;                 ///< for zsh's message
  bool repeats = false;             ///< takes any number of words
  std::vector<std::string> values;  ///< values to offer; empty = any (files)
};

/// A command and everything below it.
struct command_spec {
  std::string name;                      ///< "" for the program itself
  std::vector<std::string> aliases;      ///< other names CLI11 accepts for it
  std::string path;                      ///< canonical names below the program, space-separated
  std::string description;               ///< one line
  std::vector<flag_spec> flags;          ///< without --help
  std::vector<argument_spec> arguments;  ///< positionals, in order
  std::vector<command_spec> subcommands;
};

// -o's formats are checked by each command (parse_format), not by CLI11, and each -o lists
// its own in its description as `a, b or c`: that list is the one to offer.
std::vector<std::string> output_formats(std::string_view description) {
  std::vector<std::string> formats;
  while (!description.empty()) {
    auto end = std::min(description.find(", "), description.find(" or "));
    auto word = description.substr(0, end);
    bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
      return std::islower(static_cast<unsigned char>(c)) ||
             std::isdigit(static_cast<unsigned char>(c)) || c == '-';
    });
    if (!plain) return {"table", "json", "yaml"};  // the usual formats, for a free-form text
    formats.emplace_back(word);
    if (end == std::string_view::npos) break;
    description.remove_prefix(end + (description[end] == ',' ? 2 : 4));
  }
  return formats;
}

// Choices CLI11 shows in help as `{a,b}` (IsMember, Transformer, or a type name written so).
std::vector<std::string> known_values(const CLI::Option& opt) {
  std::vector<std::string> values;
  const std::string type_name = opt.get_type_name();  // e.g. TEXT:{mine,approvable,all}
  std::string_view type = type_name;
  auto open = type.find('{');
  auto close = type.find('}', open);
  if (open != std::string_view::npos && close != std::string_view::npos) {
    std::string_view list = type.substr(open + 1, close - open - 1);
    while (!list.empty()) {
      auto item = list.substr(0, list.find(','));
      list.remove_prefix(std::min(list.size(), item.size() + 1));
      item = item.substr(0, item.find("->"));  // a Transformer's `from->to`
      if (!item.empty()) values.emplace_back(item);
    }
  } else if (opt.get_single_name() == "output") {
    values = output_formats(opt.get_description());
  }
  return values;
}

// Every shell shows a description on a single row.
std::string one_line(std::string s) {
  std::replace_if(
      s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  return s;
}

std::string joined(const std::vector<std::string>& words, std::string_view sep) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : std::string(sep)) + w;
  return s;
}

void add_options(const CLI::App& app, std::vector<flag_spec>& flags,
                 std::vector<argument_spec>& arguments) {
  for (const CLI::Option* opt : app.get_options()) {
    // An empty group is how CLI11 hides an option.
    if (opt == app.get_help_ptr() || opt == app.get_help_all_ptr() || opt->get_group().empty())
      continue;
    if (opt->nonpositional()) {
      flag_spec f;
      for (const auto& s : opt->get_snames()) f.names.push_back("-" + s);
      for (const auto& l : opt->get_lnames()) f.names.push_back("--" + l);
      f.description = one_line(opt->get_description());
      f.takes_value = opt->get_items_expected_max() > 0;
      if (f.takes_value) f.values = known_values(*opt);
      flags.push_back(std::move(f));
    }
    if (opt->get_positional())
      arguments.push_back(
          {opt->get_name(true), opt->get_items_expected_max() > 1, known_values(*opt)});
  }
}

// `inherited` holds the flags of the parent when this command falls through to it.
command_spec describe(const CLI::App& app, const std::string& path,
                      const std::vector<flag_spec>& inherited) {
  command_spec spec;
  spec.name = app.get_parent() == nullptr ? "" : app.get_name();
  spec.aliases = app.get_aliases();
  spec.path = path;
  spec.description = one_line(app.get_description());
  add_options(app, spec.flags, spec.arguments);
  const std::function<bool(const CLI::App*)> all;
  // Nameless subcommands are option groups: their options belong to this command.
  for (const CLI::App* group : app.get_subcommands(all))
    if (group->get_name().empty()) add_options(*group, spec.flags, spec.arguments);
  for (const auto& f : inherited) {
    bool shadowed = std::any_of(spec.flags.begin(), spec.flags.end(), [&](const flag_spec& own) {
      return std::find_first_of(own.names.begin(), own.names.end(), f.names.begin(),
                                f.names.end()) != own.names.end();
    });
    if (!shadowed) spec.flags.push_back(f);
  }
  for (const CLI::App* sub : app.get_subcommands(all)) {
    // An empty group is how CLI11 hides a subcommand.
    if (sub->get_name().empty() || sub->get_group().empty() || sub->get_disabled()) continue;
    std::string sub_path = path.empty() ? sub->get_name() : path + " " + sub->get_name();
    spec.subcommands.push_back(
        describe(*sub, sub_path, sub->get_fallthrough() ? spec.flags : std::vector<flag_spec>{}));
  }
  return spec;
}

// Pre-order, so a script's data reads top-down like the help.
void for_each_command(const command_spec& c, const std::function<void(const command_spec&)>& fn) {
  fn(c);
  for (const auto& s : c.subcommands) for_each_command(s, fn);
}

std::vector<std::string> names_of(const command_spec& c) {
  std::vector<std::string> names{c.name};
  names.insert(names.end(), c.aliases.begin(), c.aliases.end());
  return names;
}

bool has_free_argument(const command_spec& c) {
  return std::any_of(c.arguments.begin(), c.arguments.end(),
                     [](const argument_spec& a) { return a.values.empty(); });
}

std::vector<std::string> argument_values(const command_spec& c) {
  std::vector<std::string> values;
  for (const auto& a : c.arguments) values.insert(values.end(), a.values.begin(), a.values.end());
  return values;
}

// Function names must be identifiers in every shell; paths contain spaces and dashes.
std::string identifier(std::string_view s) {
  std::string id;
  for (char c : s) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return id;
}

// Single quotes for bash and zsh, where nothing inside is special but the quote itself.
std::string sh_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Single quotes for fish, where backslash escapes the quote and itself.
std::string fish_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') q += '\\';
    q += c;
  }
  return q + "'";
}

// Single quotes for PowerShell, where a quote is doubled.
std::string ps_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

// A backslash before each of `chars`: zsh's _arguments and _describe give them meaning.
std::string zsh_escape(std::string_view s, std::string_view chars) {
  std::string e;
  for (char c : s) {
    if (c == '\\' || chars.find(c) != std::string_view::npos) e += '\\';
    e += c;
  }
  return e;
}

std::string path_key(const std::string& path, const std::string& word) {
  return path + "|" + word;
}

// Bash has no descriptions; the data is `case` tables keyed by "path|word", which works in
// bash 3.2 (macOS) where associative arrays do not.
void write_bash(std::ostream& out, const command_spec& root, const std::string& program) {
  const std::string fn = "_" + identifier(program);
  out << "# bash completion for " << program << ", generated by `" << program
      << " completion bash`.\n"
      << "# Load it with: source <(" << program << " completion bash)\n\n";

  out << "# Prints the canonical name of the subcommand that word $2 names below command path $1.\n"
      << fn << "_subcommand() {\n  case \"$1|$2\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub))
        out << "    " << sh_quote(path_key(c.path, name)) << ") echo " << sh_quote(sub.name)
            << " ;;\n";
  });
  out << "  esac\n}\n\n";

  out << "# Prints the subcommand names of command path $1.\n"
      << fn << "_subcommands() {\n  case \"$1\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    std::vector<std::string> names;
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub)) names.push_back(name);
    if (!names.empty())
      out << "    " << sh_quote(c.path) << ") echo " << sh_quote(joined(names, " ")) << " ;;\n";
  });
  out << "  esac\n}\n\n";

  out << "# Prints the flags of command path $1.\n" << fn << "_flags() {\n  case \"$1\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    std::vector<std::string> names;
    for (const auto& f : c.flags) names.insert(names.end(), f.names.begin(), f.names.end());
    if (!names.empty())
      out << "    " << sh_quote(c.path) << ") echo " << sh_quote(joined(names, " ")) << " ;;\n";
  });
  out << "  esac\n}\n\n";

  out << "# Succeeds when flag $2 of command path $1 takes a value.\n"
      << fn << "_takes_value() {\n  case \"$1|$2\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    for (const auto& f : c.flags)
      if (f.takes_value)
        for (const auto& name : f.names)
          out << "    " << sh_quote(path_key(c.path, name)) << ") return 0 ;;\n";
  });
  out << "  esac\n  return 1\n}\n\n";

  out << "# Prints the values flag $2 of command path $1 accepts; nothing means any value.\n"
      << fn << "_flag_values() {\n  case \"$1|$2\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    for (const auto& f : c.flags)
      if (!f.values.empty())
        for (const auto& name : f.names)
          out << "    " << sh_quote(path_key(c.path, name)) << ") echo "
              << sh_quote(joined(f.values, " ")) << " ;;\n";
  });
  out << "  esac\n}\n\n";

  out << "# Prints the values the arguments of command path $1 accept; \"-\" means any value.\n"
      << fn << "_arguments() {\n  case \"$1\" in\n";
  for_each_command(root, [&](const command_spec& c) {
    if (has_free_argument(c))
      out << "    " << sh_quote(c.path) << ") echo - ;;\n";
    else if (!c.arguments.empty())
      out << "    " << sh_quote(c.path) << ") echo " << sh_quote(joined(argument_values(c), " "))
          << " ;;\n";
  });
  out << "  esac\n}\n\n";

  out << "# Sets COMPREPLY to the words of $1 that start with $2, one per line of compgen.\n"
      << fn << "_reply() {\n"
      << "  local line\n"
      << "  COMPREPLY=()\n"
      << "  while IFS= read -r line; do COMPREPLY+=(\"$line\"); done < <(compgen -W \"$1\" -- "
         "\"$2\")\n"
      << "}\n\n"
      << "# Sets COMPREPLY to the files that start with $1.\n"
      << fn << "_files() {\n"
      << "  local line\n"
      << "  COMPREPLY=()\n"
      << "  compopt -o filenames 2>/dev/null\n"
      << "  while IFS= read -r line; do COMPREPLY+=(\"$line\"); done < <(compgen -f -- \"$1\")\n"
      << "}\n\n";

  // COMP_WORDBREAKS splits `--output=json` into `--output`, `=`, `json`, hence the "=" cases.
  out << fn << "() {\n"
      << "  local cur=${COMP_WORDS[COMP_CWORD]} path='' flag='' word sub i=1\n"
      << "  while (( i < COMP_CWORD )); do\n"
      << "    word=${COMP_WORDS[i]}\n"
      << "    if [[ $word == -* && ${COMP_WORDS[i+1]} == = ]] && (( i + 1 < COMP_CWORD )); then\n"
      << "      (( i + 2 == COMP_CWORD )) && flag=$word\n"
      << "      (( i += 3 ))\n"
      << "      continue\n"
      << "    fi\n"
      << "    case $word in\n"
      << "      -*)\n"
      << "        if " << fn << "_takes_value \"$path\" \"$word\"; then\n"
      << "          (( i + 1 == COMP_CWORD )) && flag=$word\n"
      << "          (( i++ ))\n"
      << "        fi\n"
      << "        ;;\n"
      << "      *)\n"
      << "        sub=$(" << fn << "_subcommand \"$path\" \"$word\")\n"
      << "        [[ -n $sub ]] && path=${path:+$path }$sub\n"
      << "        ;;\n"
      << "    esac\n"
      << "    (( i++ ))\n"
      << "  done\n"
      << "  [[ -n $flag && $cur == = ]] && cur=''\n"
      << "  if [[ -n $flag ]]; then\n"
      << "    local values\n"
      << "    values=$(" << fn << "_flag_values \"$path\" \"$flag\")\n"
      << "    if [[ -n $values ]]; then " << fn << "_reply \"$values\" \"$cur\"; else " << fn
      << "_files \"$cur\"; fi\n"
      << "    return 0\n"
      << "  fi\n"
      << "  if [[ $cur == -* ]]; then\n"
      << "    " << fn << "_reply \"$(" << fn << "_flags \"$path\")\" \"$cur\"\n"
      << "    return 0\n"
      << "  fi\n"
      << "  local subs args\n"
      << "  subs=$(" << fn << "_subcommands \"$path\")\n"
      << "  args=$(" << fn << "_arguments \"$path\")\n"
      << "  if [[ -z $subs && $args == - ]]; then\n"
      << "    " << fn << "_files \"$cur\"\n"
      << "  elif [[ -z $subs && -z $args ]]; then\n"
      << "    " << fn << "_reply \"$(" << fn << "_flags \"$path\")\" \"$cur\"\n"
      << "  else\n"
      << "    [[ $args == - ]] && args=''\n"
      << "    " << fn << "_reply \"$subs $args\" \"$cur\"\n"
      << "  fi\n"
      << "  return 0\n"
      << "}\n\n"
      << "complete -F " << fn << " " << program << "\n";
}

std::string zsh_function(const std::string& program, const command_spec& c) {
  return "_" + identifier(program) + (c.path.empty() ? "" : "_" + identifier(c.path));
}

// One function per command, in the style of zsh's own completions: _arguments for flags and
// arguments, _describe for subcommands, and `*::` to hand the rest to the chosen subcommand.
void write_zsh_command(std::ostream& out, const command_spec& c, const std::string& program) {
  std::vector<std::string> specs;
  for (const auto& f : c.flags) {
    const std::string exclusive = "(" + joined(f.names, " ") + ")";
    for (const auto& name : f.names) {
      std::string spec = exclusive + name;
      if (f.takes_value) spec += name.starts_with("--") ? "=" : "+";
      spec += "[" + zsh_escape(f.description, "[]") + "]";
      if (f.takes_value) {
        std::string message = zsh_escape(name.substr(name.find_first_not_of('-')), ":");
        std::vector<std::string> values;
        for (const auto& v : f.values) values.push_back(zsh_escape(v, ": ()"));
        spec +=
            ":" + message + ":" + (values.empty() ? "_default" : "(" + joined(values, " ") + ")");
      }
      specs.push_back(spec);
    }
  }
  if (c.subcommands.empty()) {
    int position = 1;
    for (const auto& a : c.arguments) {
      std::vector<std::string> values;
      for (const auto& v : a.values) values.push_back(zsh_escape(v, ": ()"));
      specs.push_back((a.repeats ? "*" : std::to_string(position++)) + ":" +
                      zsh_escape(a.name, ":") + ":" +
                      (values.empty() ? "_default" : "(" + joined(values, " ") + ")"));
    }
  } else {
    specs.push_back(": :->command");
    specs.push_back("*:: :->argument");
  }

  const std::string title = program + (c.path.empty() ? "" : " " + c.path);
  out << zsh_function(program, c) << "() {\n";
  if (specs.empty()) {
    out << "  _message " << sh_quote("no arguments") << "\n}\n\n";
    return;
  }
  out << "  local curcontext=\"$curcontext\" state state_descr line\n"
      << "  local -i ret=1\n"
      << "  typeset -A opt_args\n"
      << "  _arguments -C";
  for (const auto& s : specs) out << " \\\n    " << sh_quote(s);
  out << " && ret=0\n";
  if (!c.subcommands.empty()) {
    out << "  case $state in\n"
        << "    (command)\n"
        << "      local -a commands\n"
        << "      commands=(\n";
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub))
        out << "        " << sh_quote(zsh_escape(name, ":") + ":" + sub.description) << "\n";
    out << "      )\n"
        << "      _describe -t commands " << sh_quote(title + " command") << " commands && ret=0\n"
        << "      ;;\n"
        << "    (argument)\n"
        << "      curcontext=\"${curcontext%:*:*}:" << identifier(title) << "-$words[1]:\"\n"
        << "      case $words[1] in\n";
    for (const auto& sub : c.subcommands) {
      std::vector<std::string> patterns;
      for (const auto& name : names_of(sub)) patterns.push_back(sh_quote(name));
      out << "        (" << joined(patterns, "|") << ") " << zsh_function(program, sub)
          << " && ret=0 ;;\n";
    }
    out << "      esac\n"
        << "      ;;\n"
        << "  esac\n";
  }
  out << "  return ret\n}\n\n";
}

// Works both from a file named _apono in $fpath (the file is the body of _apono: it defines
// the functions, then completes) and when sourced (it registers _apono with compdef).
void write_zsh(std::ostream& out, const command_spec& root, const std::string& program) {
  const std::string fn = "_" + identifier(program);
  out << "#compdef " << program << "\n"
      << "# zsh completion for " << program << ", generated by `" << program
      << " completion zsh`.\n"
      << "# Load it with: autoload -U compinit; compinit; source <(" << program
      << " completion zsh)\n"
      << "# or save it as _" << program << " in a directory of $fpath.\n\n";
  for_each_command(root, [&](const command_spec& c) { write_zsh_command(out, c, program); });
  out << "if [[ $funcstack[1] == " << fn << " ]]; then\n"
      << "  " << fn << " \"$@\"\n"
      << "elif (( $+functions[compdef] )); then\n"
      << "  compdef " << fn << " " << program << "\n"
      << "else\n"
      << "  print -u2 "
      << sh_quote(program + ": completion needs compinit first: autoload -U compinit; compinit")
      << "\n"
      << "fi\n";
}

// A fish word, quoted only when it needs to be, so the script stays readable.
std::string fish_word(std::string_view s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_./:,@%+=").find(c) != std::string_view::npos;
  });
  return plain ? std::string(s) : fish_quote(s);
}

std::string fish_words(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const auto& w : words) quoted.push_back(fish_word(w));
  return fish_quote(joined(quoted, " "));
}

// Conditions compare the exact command path rather than using __fish_use_subcommand and
// __fish_seen_subcommand_from: those take a flag's value (`--profile dev`) for a subcommand
// and cannot tell `requests list` from `access list`.
void write_fish(std::ostream& out, const command_spec& root, const std::string& program) {
  const std::string fn = "__" + identifier(program);
  out << "# fish completion for " << program << ", generated by `" << program
      << " completion fish`.\n"
      << "# Load it with: " << program << " completion fish | source\n\n";

  std::vector<std::string> value_flags, sub_keys, sub_names;
  for_each_command(root, [&](const command_spec& c) {
    for (const auto& f : c.flags)
      if (f.takes_value)
        for (const auto& name : f.names) value_flags.push_back(fish_quote(path_key(c.path, name)));
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub)) {
        sub_keys.push_back(fish_quote(path_key(c.path, name)));
        sub_names.push_back(fish_quote(sub.name));
      }
  });
  out << "# Succeeds when flag $argv[2] of command path $argv[1] takes a value.\n"
      << "function " << fn << "_takes_value\n"
      << "    contains -- \"$argv[1]|$argv[2]\" " << joined(value_flags, " ") << "\n"
      << "end\n\n"
      << "# Prints the canonical name of the subcommand that word $argv[2] names below path "
         "$argv[1].\n"
      << "function " << fn << "_subcommand\n"
      << "    set -l keys " << joined(sub_keys, " ") << "\n"
      << "    set -l names " << joined(sub_names, " ") << "\n"
      << "    if set -l i (contains -i -- \"$argv[1]|$argv[2]\" $keys)\n"
      << "        echo $names[$i]\n"
      << "    end\n"
      << "end\n\n"
      << "# Prints the command path (canonical names, space-separated) of the words before the "
         "cursor.\n"
      << "function " << fn << "_command_path\n"
      << "    set -l words (commandline -opc)\n"
      << "    set -l path ''\n"
      << "    set -l i 2\n"
      << "    while test $i -le (count $words)\n"
      << "        set -l word $words[$i]\n"
      << "        set i (math $i + 1)\n"
      << "        switch \"$word\"\n"
      << "            case '-*=*'\n"
      << "                continue\n"
      << "            case '-*'\n"
      << "                if " << fn << "_takes_value \"$path\" $word\n"
      << "                    set i (math $i + 1)\n"
      << "                end\n"
      << "            case '*'\n"
      << "                set -l sub (" << fn << "_subcommand \"$path\" $word)\n"
      << "                if test -n \"$sub\"\n"
      << "                    set path (string trim -- \"$path $sub\")\n"
      << "                end\n"
      << "        end\n"
      << "    end\n"
      << "    echo $path\n"
      << "end\n\n"
      << "# Succeeds when the words before the cursor select command path $argv[1].\n"
      << "function " << fn << "_at\n"
      << "    set -l path (" << fn << "_command_path)\n"
      << "    test \"$path\" = \"$argv[1]\"\n"
      << "end\n\n"
      << "# Files only where a command or flag takes any value.\n"
      << "complete -c " << program << " -f\n";

  for_each_command(root, [&](const command_spec& c) {
    const std::string head =
        "complete -c " + program + " -n " + fish_quote(fn + "_at " + fish_quote(c.path));
    out << "\n# " << program << (c.path.empty() ? "" : " " + c.path) << "\n";
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub))
        out << head << " -a " << fish_word(name) << " -d " << fish_quote(sub.description) << "\n";
    for (const auto& f : c.flags) {
      out << head;
      for (const auto& name : f.names)
        out << (name.starts_with("--") ? " -l " : " -s ")
            << fish_word(name.substr(name.find_first_not_of('-')));
      if (f.takes_value) out << (f.values.empty() ? " -r -F" : " -x -a " + fish_words(f.values));
      out << " -d " << fish_quote(f.description) << "\n";
    }
    auto values = argument_values(c);
    if (!values.empty()) out << head << " -a " << fish_words(values) << "\n";
    if (has_free_argument(c)) out << head << " -F\n";
  });
}

// PowerShell hashtables compare keys without case, so names are matched with -ceq instead.
void write_powershell(std::ostream& out, const command_spec& root, const std::string& program) {
  out << "# PowerShell completion for " << program << ", generated by `" << program
      << " completion powershell`.\n"
      << "# Load it with: " << program
      << " completion powershell | Out-String | Invoke-Expression\n"
      << "Register-ArgumentCompleter -Native -CommandName " << ps_quote(program)
      << " -ScriptBlock {\n"
      << "    param($wordToComplete, $commandAst, $cursorPosition)\n\n"
      << "    # Per command path (canonical names, space-separated): subcommands, flags, and the\n"
      << "    # values its arguments take (FreeArguments: any value).\n"
      << "    $commands = @{\n";
  for_each_command(root, [&](const command_spec& c) {
    out << "        " << ps_quote(c.path) << " = @{\n"
        << "            Subcommands = @(\n";
    for (const auto& sub : c.subcommands)
      for (const auto& name : names_of(sub))
        out << "                [pscustomobject]@{ Name = " << ps_quote(name)
            << "; Command = " << ps_quote(sub.name)
            << "; Description = " << ps_quote(sub.description) << " }\n";
    out << "            )\n"
        << "            Flags = @(\n";
    for (const auto& f : c.flags) {
      std::vector<std::string> values;
      for (const auto& v : f.values) values.push_back(ps_quote(v));
      for (const auto& name : f.names)
        out << "                [pscustomobject]@{ Name = " << ps_quote(name)
            << "; TakesValue = " << (f.takes_value ? "$true" : "$false") << "; Choices = @("
            << joined(values, ", ") << "); Description = " << ps_quote(f.description) << " }\n";
    }
    std::vector<std::string> values;
    for (const auto& v : argument_values(c)) values.push_back(ps_quote(v));
    out << "            )\n"
        << "            Arguments = @(" << joined(values, ", ") << ")\n"
        << "            FreeArguments = " << (has_free_argument(c) ? "$true" : "$false") << "\n"
        << "        }\n";
  });
  out << "    }\n\n"
      << "    # The words before the one being completed, the program's own name included.\n"
      << "    $words = @($commandAst.CommandElements | Where-Object { $_.Extent.EndOffset -lt "
         "$cursorPosition } | ForEach-Object { $_.Extent.Text })\n"
      << "    $path = ''\n"
      << "    $pending = $null\n"
      << "    for ($i = 1; $i -lt $words.Count; $i++) {\n"
      << "        $word = $words[$i]\n"
      << "        $spec = $commands[$path]\n"
      << "        if ($word.StartsWith('-', [System.StringComparison]::Ordinal)) {\n"
      << "            $flag = $spec.Flags | Where-Object { $_.Name -ceq $word } | Select-Object "
         "-First 1\n"
      << "            if ($flag -and $flag.TakesValue) {\n"
      << "                if ($i + 1 -lt $words.Count) { $i++ } else { $pending = $flag }\n"
      << "            }\n"
      << "        } else {\n"
      << "            $sub = $spec.Subcommands | Where-Object { $_.Name -ceq $word } | "
         "Select-Object -First 1\n"
      << "            if ($sub) {\n"
      << "                if ($path) { $path = \"$path $($sub.Command)\" } else { $path = "
         "$sub.Command }\n"
      << "            }\n"
      << "        }\n"
      << "    }\n\n"
      << "    $spec = $commands[$path]\n"
      << "    $prefix = ''\n"
      << "    $current = [string]$wordToComplete\n"
      << "    if (-not $pending -and $current -match '^(-[^=]+)=(.*)$') {\n"
      << "        $flagName = $Matches[1]\n"
      << "        $rest = $Matches[2]\n"
      << "        $flag = $spec.Flags | Where-Object { $_.Name -ceq $flagName } | Select-Object "
         "-First 1\n"
      << "        if ($flag -and $flag.TakesValue) { $pending = $flag; $prefix = $flagName + '='; "
         "$current = $rest }\n"
      << "    }\n"
      << "    if ($pending) {\n"
      << "        # No result lets PowerShell fall back to completing file names.\n"
      << "        $candidates = @($pending.Choices | ForEach-Object { [pscustomobject]@{ Name = "
         "$_; "
         "Description = $pending.Description } })\n"
      << "    } elseif ($current.StartsWith('-', [System.StringComparison]::Ordinal)) {\n"
      << "        $candidates = @($spec.Flags)\n"
      << "    } else {\n"
      << "        $candidates = @($spec.Subcommands) + @($spec.Arguments | ForEach-Object { "
         "[pscustomobject]@{ Name = $_; Description = $_ } })\n"
      << "        if ($candidates.Count -eq 0 -and -not $spec.FreeArguments) { $candidates = "
         "@($spec.Flags) }\n"
      << "    }\n"
      << "    $candidates | Where-Object { $_.Name.StartsWith($current, "
         "[System.StringComparison]::Ordinal) } | ForEach-Object {\n"
      << "        # CompletionResult refuses an empty tooltip.\n"
      << "        $tip = $_.Description\n"
      << "        if (-not $tip) { $tip = $_.Name }\n"
      << "        [System.Management.Automation.CompletionResult]::new($prefix + $_.Name, $_.Name, "
         "'ParameterValue', $tip)\n"
      << "    }\n"
      << "}\n";
}

}  // namespace

void setup_completion(CLI::App& app, global_options&, io& streams) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("completion", "print a shell completion script");
  // The type name shows the choices in help, and is where the script finds them.
  cmd->add_option("shell", *shell, "the shell to complete for")
      ->type_name("{bash,zsh,fish,powershell}")
      ->required();
  cmd->footer(
      "Load it with:\n"
      "  bash:        source <(apono completion bash)\n"
      "  zsh:         autoload -U compinit; compinit; source <(apono completion zsh)\n"
      "  fish:        apono completion fish | source\n"
      "  powershell:  apono completion powershell | Out-String | Invoke-Expression");
  cmd->callback([shell, cmd, &streams] {
    // Walked now rather than at setup, when commands registered after this one are missing.
    const CLI::App* root = cmd;
    while (root->get_parent() != nullptr) root = root->get_parent();
    const std::string program = root->get_name().empty() ? "apono" : root->get_name();
    const command_spec spec = describe(*root, "", {});
    if (*shell == "bash")
      write_bash(streams.out, spec, program);
    else if (*shell == "zsh")
      write_zsh(streams.out, spec, program);
    else if (*shell == "fish")
      write_fish(streams.out, spec, program);
    else if (*shell == "powershell")
      write_powershell(streams.out, spec, program);
    else
      throw usage_error("unknown shell '" + *shell + "': use bash, zsh, fish or powershell");
  });
}

}  // namespace apono::cli
