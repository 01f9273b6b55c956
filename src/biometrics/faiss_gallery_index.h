// The single-index GalleryIndex on FAISS (faiss_gallery_index.cc). MakeGalleryIndex and the
// loaders (sharded_gallery_index.cc) build on these for "Shards<N>:<factory>" and otherwise
// return them as they are.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "facepay/biometrics/gallery_index.h"

namespace facepay::biometrics {

StatusOr<std::unique_ptr<GalleryIndex>> MakeFaissGalleryIndex(const std::string& factory, int dim);
StatusOr<std::unique_ptr<GalleryIndex>> DeserializeFaissGalleryIndex(std::string_view blob);
StatusOr<std::unique_ptr<GalleryIndex>> LoadFaissGalleryIndex(const std::string& path);

}  // namespace facepay::biometrics
