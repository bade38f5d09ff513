#include "space/embedding.hpp"

#include <stdexcept>

namespace flexnas {

// Implemented in the embedding work item.
Embedding Embedding::fit(const std::vector<Architecture>&, const DesignSpace&, const EmbeddingOptions&) {
  throw std::logic_error("Embedding::fit: not implemented yet");
}
Eigen::VectorXd Embedding::embed(const Architecture&) const { throw std::logic_error("not implemented yet"); }
EmbeddingQuality Embedding::quality(const std::vector<Architecture>&, std::size_t, std::uint64_t) const {
  throw std::logic_error("not implemented yet");
}
void Embedding::save(const std::string&) const { throw std::logic_error("not implemented yet"); }
Embedding Embedding::load(const std::string&) { throw std::logic_error("not implemented yet"); }
Eigen::VectorXd naive_encoding(const Architecture&, const DesignSpace&) { throw std::logic_error("not implemented yet"); }
double spearman(const std::vector<double>&, const std::vector<double>&) { throw std::logic_error("not implemented yet"); }

}  // namespace flexnas
