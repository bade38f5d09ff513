// flexnas mpc: communication bytes, rounds and latency of one private inference, with
// the per-operation breakdown (docs/mpc.md).
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "evaluators/mpc.hpp"

namespace flexnas::cli {
namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (b >= 1000 && u < 4) {
    b /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

}  // namespace

void add_mpc_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "mpc", "secure 2-party inference cost: bytes, rounds, latency per operation");
  auto model = std::make_shared<std::string>();
  auto protocol = std::make_shared<std::string>("crypten-2pc");
  auto network = std::make_shared<std::string>("wan");
  auto seq = std::make_shared<int>(128);
  auto scope = std::make_shared<std::string>("encoder");
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--model", *model, "model dict as JSON text, or @file")->required();
  cmd->add_option("--protocol", *protocol, "protocol profile: crypten-2pc, or a YAML/JSON file")
      ->capture_default_str();
  cmd->add_option("--network", *network, "network profile: lan, wan, or a YAML/JSON file")
      ->capture_default_str();
  cmd->add_option("--seq", *seq, "sequence length L")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--scope", *scope,
                  "encoder (layers, projections between them) or model (+ embeddings, head)")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "one JSON object: bytes, rounds, latency_s, per_op");
  cmd->callback([=] {
    const auto a = load_model(*model);
    MpcOptions opt;
    opt.seq = *seq;
    opt.scope = parse_mpc_scope(*scope, "--scope");
    const MpcOps ops(load_protocol(*protocol));
    const auto net = load_network(*network);
    const auto r = mpc_cost(a, ops, net, opt);
    if (*json) {
      nlohmann::ordered_json j;
      j["protocol"] = ops.profile().name;
      j["network"] = net.name;
      j["seq"] = *seq;
      j["scope"] = *scope;
      j["bytes"] = r.total.bytes;
      j["rounds"] = r.total.rounds;
      j["latency_s"] = r.latency_s;
      auto& per = j["per_op"] = nlohmann::ordered_json::array();
      for (const auto& o : r.ops)
        per.push_back({{"name", o.name},
                       {"layer", o.layer},
                       {"op", o.op},
                       {"rounds", o.cost.rounds},
                       {"bytes", o.cost.bytes},
                       {"latency_s", net.latency_s(o.cost.rounds, o.cost.bytes)}});
      std::cout << j.dump() << "\n";
      return;
    }
    std::printf("protocol %s, network %s (%g Mbit/s, %g ms RTT), L = %d, scope %s\n",
                ops.profile().name.c_str(), net.name.c_str(), net.bandwidth_mbps, net.rtt_ms, *seq,
                scope->c_str());
    std::printf("%5s  %-10s %-14s %8s %16s %12s\n", "layer", "name", "op", "rounds", "bytes",
                "latency s");
    for (const auto& o : r.ops)
      std::printf("%5s  %-10s %-14s %8lld %16lld %12.4f\n",
                  o.layer < 0 ? "-" : std::to_string(o.layer).c_str(), o.name.c_str(), o.op.c_str(),
                  static_cast<long long>(o.cost.rounds), static_cast<long long>(o.cost.bytes),
                  net.latency_s(o.cost.rounds, o.cost.bytes));
    std::printf("%5s  %-10s %-14s %8lld %16lld %12.4f\n", "", "total", "",
                static_cast<long long>(r.total.rounds), static_cast<long long>(r.total.bytes),
                r.latency_s);
    std::printf("total: %lld rounds, %s, %.3f s\n", static_cast<long long>(r.total.rounds),
                human_bytes(static_cast<double>(r.total.bytes)).c_str(), r.latency_s);
  });
}

}  // namespace flexnas::cli
