// One function per subcommand; each lives in its own cmd_<name>.cpp.
#pragma once

namespace leanlm::cli {

int RunCommand(int argc, char** argv);
int ChatCommand(int argc, char** argv);
int PerplexityCommand(int argc, char** argv);
int CompareCommand(int argc, char** argv);
int TokenizeCommand(int argc, char** argv);
int InfoCommand(int argc, char** argv);
int InitCommand(int argc, char** argv);
int ConvertCommand(int argc, char** argv);
int BenchCommand(int argc, char** argv);
int QuantizeCommand(int argc, char** argv);
int MergeCommand(int argc, char** argv);
int FinetuneCommand(int argc, char** argv);

}  // namespace leanlm::cli
