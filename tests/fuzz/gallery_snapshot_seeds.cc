// Writes the seed inputs of the gallery_snapshot fuzz target (corpus/gallery_snapshot): small
// real snapshots of each index family, in the target's input format (first byte = reader).
//   cmake --build build/fuzz -j1 --target gallery_snapshot_seeds
//   build/fuzz/tests/fuzz/gallery_snapshot_seeds tests/fuzz/corpus/gallery_snapshot
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "facepay/biometrics/gallery_index.h"
#include "facepay/biometrics/template_crypto.h"

namespace {

using namespace facepay::biometrics;

void Write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<float> Vectors(int n, int dim) {
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    for (int k = 0; k < dim; ++k) {
      v[i * dim + k] = static_cast<float>(std::sin(1.0 + i * 7.0 + k * 3.0));
      norm += v[i * dim + k] * v[i * dim + k];
    }
    for (int k = 0; k < dim; ++k) v[i * dim + k] = static_cast<float>(v[i * dim + k] / std::sqrt(norm));
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string out = argv[1];
  const struct { const char* name; const char* factory; int n; } kinds[] = {
      {"flat", "Flat", 3},     {"hnsw", "HNSW8", 6},   {"ivf", "IVF2,Flat", 8},
      {"pca_hnsw_rflat", "PCA2,HNSW8,RFlat", 8},       {"shards", "Shards2:Flat", 4}};
  const int dim = 4;
  for (const auto& k : kinds) {
    auto index = MakeGalleryIndex(k.factory, dim);
    if (!index.ok()) return std::fprintf(stderr, "%s\n", index.status().ToString().c_str()), 1;
    std::vector<int64_t> labels;
    for (int i = 0; i < k.n; ++i) labels.push_back(100 + i);
    if (!(*index)->AddBatch(labels, Vectors(k.n, dim)).ok()) return 1;
    if (!(*index)->Remove(100).ok()) return 1;  // one tombstone
    auto blob = (*index)->Serialize();
    if (!blob.ok()) return 1;
    Write(out + "/blob_" + k.name + ".bin", std::string(1, '\0') + *blob);
    if (std::string(k.factory).rfind("Shards", 0) == 0) continue;  // file form: unsharded only
    const std::string tmp = out + "/.tmp_index";
    if (!(*index)->Save(tmp).ok()) return 1;
    const std::string file = Slurp(tmp), lab = Slurp(tmp + ".labels");
    std::remove(tmp.c_str());
    std::remove((tmp + ".labels").c_str());
    if (file.size() > 0xffff) return 1;
    std::string in(1, '\1');
    in.push_back(static_cast<char>(file.size() & 0xff));
    in.push_back(static_cast<char>(file.size() >> 8));
    Write(out + "/file_" + k.name + ".bin", in + file + lab);
  }
  auto key = TemplateKey::FromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  Write(out + "/sealed_ad.bin", std::string(1, '\2') + key->Seal("snapshot", "ad"));
  Write(out + "/sealed_embedding.bin",
        std::string(1, '\2') + SealEmbedding(*key, {0.5f, 0.5f, 0.5f, 0.5f}, "ad"));
  Write(out + "/key_check.bin", std::string(1, '\2') + MakeKeyCheck(*key));
  return 0;
}
