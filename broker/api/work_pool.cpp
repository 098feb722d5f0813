// work_pool: the pool's lifetime.
#include "broker/api/work_pool.hpp"

namespace apono::broker::api {

work_pool::work_pool(std::size_t threads, std::size_t max_queued,
                     std::chrono::milliseconds max_wait)
    : pool_(threads < 1 ? 1 : threads), max_queued_(max_queued), max_wait_(max_wait) {}

work_pool::~work_pool() {
  pool_.join();
}

}  // namespace apono::broker::api
