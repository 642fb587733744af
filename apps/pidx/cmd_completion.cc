// pidx completion bash|zsh|fish: the completion script, generated from the command table and
// the flags (the build installs the same scripts).
#include "command_table.h"
#include "completion.h"
#include "output.h"

namespace pidx::cli {

CommandRun SetupCompletion(CLI::App* app, GlobalOptions* global) {
  auto shell = std::make_shared<std::string>();
  app->add_option("shell", *shell, "The shell to complete for")->type_name("bash|zsh|fish");
  return [app, shell, global]() -> Status {
    if (shell->empty()) return Status::Usage("missing SHELL: bash, zsh or fish");
    auto script = CompletionScript(*app->get_parent(), *shell);
    if (!script.ok()) {
      global->failure_fields["shell"] = *shell;
      return script.status();
    }
    PrintText(*script);
    return Status::Ok();
  };
}

}  // namespace pidx::cli
