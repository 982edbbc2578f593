/* envdump: plain process (no MPI) that prints the rank environment a launcher sets, in a fixed
 * order, so tests can compare launchers line by line. */
#include <stdio.h>
#include <stdlib.h>

static const char* const kNames[] = {"OMPI_COMM_WORLD_RANK",
                                     "OMPI_COMM_WORLD_SIZE",
                                     "OMPI_COMM_WORLD_LOCAL_RANK",
                                     "OMPI_COMM_WORLD_LOCAL_SIZE",
                                     "OMPI_COMM_WORLD_NODE_RANK",
                                     "RANK",
                                     "LOCAL_RANK",
                                     "WORLD_SIZE",
                                     "LOCAL_WORLD_SIZE",
                                     "GROUP_RANK",
                                     "MASTER_ADDR",
                                     "MASTER_PORT",
                                     "IONET_JOB_ID",
                                     "IONET_RANK",
                                     "IONET_HOST"};

static const char* valueOf(const char* name) {
  const char* v = getenv(name);
  return v ? v : "<unset>";
}

int main(int argc, char** argv) {
  const char* rank = valueOf("OMPI_COMM_WORLD_RANK");
  for (size_t i = 0; i < sizeof kNames / sizeof kNames[0]; i++)
    printf("env[%s] %s=%s\n", rank, kNames[i], valueOf(kNames[i]));
  for (int i = 1; i < argc; i++) printf("env[%s] %s=%s\n", rank, argv[i], valueOf(argv[i]));
  return 0;
}
