# Finds the OpenCV 4 modules facepay uses from Debian's per-module -dev packages.
# (Debian ships OpenCVConfig.cmake only in the libopencv-dev meta package, which drags in
# ~40 unrelated packages such as VTK; we only need six modules.) Defines facepay::opencv.
find_path(FACEPAY_OPENCV_INCLUDE_DIR opencv2/core/version.hpp PATH_SUFFIXES opencv4 REQUIRED)
set(_facepay_cv_libs)
foreach(m core imgproc imgcodecs dnn videoio calib3d)
  find_library(FACEPAY_OPENCV_${m}_LIB NAMES opencv_${m} REQUIRED)
  list(APPEND _facepay_cv_libs ${FACEPAY_OPENCV_${m}_LIB})
endforeach()
file(STRINGS "${FACEPAY_OPENCV_INCLUDE_DIR}/opencv2/core/version.hpp" _cv_ver
     REGEX "#define CV_VERSION_(MAJOR|MINOR) ")
message(STATUS "OpenCV headers: ${FACEPAY_OPENCV_INCLUDE_DIR} (${_cv_ver})")
add_library(facepay_opencv INTERFACE)
target_include_directories(facepay_opencv SYSTEM INTERFACE ${FACEPAY_OPENCV_INCLUDE_DIR})
target_link_libraries(facepay_opencv INTERFACE ${_facepay_cv_libs})
add_library(facepay::opencv ALIAS facepay_opencv)
