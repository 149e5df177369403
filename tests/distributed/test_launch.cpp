// The launch environment: torchrun's and SLURM's variables, the first host of a SLURM node list, shard specs.
#include <map>

#include "core/error.h"
#include "distributed/launch.h"
#include "sne_catch.h"

using sne::distributed::detect_launch;
using sne::distributed::first_host;
using sne::distributed::Launch;
using sne::distributed::parse_shard;

namespace {

Launch launch_with(const std::map<std::string, std::string>& vars) {
  return detect_launch([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string usage_error(const std::map<std::string, std::string>& vars) {
  try {
    launch_with(vars);
  } catch (const sne::UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("no launcher variables: one process") {
  const Launch l = launch_with({});
  CHECK_FALSE(l.distributed());
  CHECK(l.world == 1);
  CHECK(l.source == "none");
}

TEST_CASE("torchrun's variables") {
  const Launch l = launch_with({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                                {"MASTER_ADDR", "node07"}, {"MASTER_PORT", "29400"}});
  CHECK(l.distributed());
  CHECK(l.rank == 3);
  CHECK(l.world == 8);
  CHECK(l.local_rank == 1);
  CHECK(l.local_world == 2);
  CHECK(l.master_addr == "node07");
  CHECK(l.master_port == 29400);
  CHECK_FALSE(l.single_node);
  CHECK(l.source == "torchrun");
  // All ranks on one host: Gloo can use the loopback address.
  CHECK(launch_with({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "2"}}).single_node);
  CHECK(launch_with({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).single_node);  // MASTER_ADDR defaults to 127.0.0.1
}

TEST_CASE("SLURM's variables inside a job step") {
  const Launch l = launch_with({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                {"SLURM_STEP_ID", "0"}, {"SLURM_NNODES", "2"}, {"SLURM_JOB_ID", "123456"},
                                {"SLURM_STEP_NODELIST", "gpu[03-04]"}});
  CHECK(l.source == "slurm");
  CHECK(l.rank == 5);
  CHECK(l.world == 8);
  CHECK(l.local_rank == 1);
  CHECK(l.local_world == 4);
  CHECK(l.master_addr == "gpu03");
  CHECK(l.master_port == 20000 + 123456 % 20000);
  CHECK_FALSE(l.single_node);
  // A batch script's own shell (no step id) stays one process even when the job has several tasks.
  CHECK_FALSE(launch_with({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "a"}}).distributed());
  // torchrun's variables win over SLURM's (torchrun inside an allocation).
  CHECK(launch_with({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"},
                     {"SLURM_STEP_ID", "0"}}).source == "torchrun");
}

TEST_CASE("bad launcher variables name the variable") {
  CHECK_THAT(usage_error({{"RANK", "2"}, {"WORLD_SIZE", "2"}}), Catch::Contains("RANK='2'"));
  CHECK_THAT(usage_error({{"RANK", "x"}, {"WORLD_SIZE", "2"}}), Catch::Contains("RANK='x'"));
  CHECK_THAT(usage_error({{"RANK", "0"}, {"WORLD_SIZE", "0"}}), Catch::Contains("WORLD_SIZE='0'"));
  CHECK_THAT(usage_error({{"RANK", "0"}}), Catch::Contains("RANK and WORLD_SIZE must be set together"));
  CHECK_THAT(usage_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}),
             Catch::Contains("MASTER_PORT='70000'"));
}

TEST_CASE("the first host of a SLURM node list") {
  CHECK(first_host("node1") == "node1");
  CHECK(first_host("node1,node2") == "node1");
  CHECK(first_host("gpu[03-05,9],cpu1") == "gpu03");
  CHECK(first_host("gpu[7,9]") == "gpu7");
  CHECK(first_host("rack[2]-n[1-4]") == "rack2-n1");
  CHECK(first_host("rack[1-2]-n[01-04],other") == "rack1-n01");
  CHECK_THROWS_AS(first_host(""), sne::UsageError);
  CHECK_THROWS_AS(first_host("gpu[1-2"), sne::UsageError);
}

TEST_CASE("shard specs") {
  CHECK(parse_shard("0/4", "--shard") == std::make_pair(0, 4));
  CHECK(parse_shard("3/4", "--shard") == std::make_pair(3, 4));
  for (const char* bad : {"4/4", "-1/4", "1", "1/", "/2", "a/b", "1/2x", "0/0"})
    CHECK_THROWS_WITH(parse_shard(bad, "--shard"), Catch::Contains("--shard '" + std::string(bad) + "'"));
}
