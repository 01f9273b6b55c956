# Warning and sanitizer flags shared by every facepay target (call facepay_target_defaults).
function(facepay_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                                           -Wpedantic -Wno-missing-field-initializers)
  if(FACEPAY_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(FACEPAY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(FACEPAY_TSAN)
  # ThreadSanitizer (preset tsan). libfaiss.a and libgomp are not instrumented: the tsan test
  # preset runs FAISS with one OpenMP thread so its internal parallel regions stay out of view.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
