// pidx help [COMMAND]   (the same text as pidx COMMAND --help)
// pidx __man            the manual page, in roff (hidden: the build installs it as pidx.1)
#include "command_table.h"
#include "help.h"
#include "man_page.h"
#include "output.h"

namespace pidx::cli {

CommandRun SetupHelp(CLI::App* app, GlobalOptions* /*global*/) {
  auto name = std::make_shared<std::string>();
  app->add_option("command", *name, "The command to explain (all of them when left out)")
      ->type_name("COMMAND");
  return [app, name]() -> Status {
    const CLI::App& root = *app->get_parent();
    if (name->empty()) {
      PrintText(ProgramHelp(root));
      return Status::Ok();
    }
    PIDX_ASSIGN_OR_RETURN(std::string text, HelpFor(root, *name));
    PrintText(text);
    return Status::Ok();
  };
}

CommandRun SetupManPage(CLI::App* app, GlobalOptions* /*global*/) {
  return [app]() -> Status {
    PrintText(ManPage(*app->get_parent()));
    return Status::Ok();
  };
}

}  // namespace pidx::cli
