# Part of dualfd._reverse (included by _reverse.pyx): the tape: buffer pools, the Tape type and its sweep.

# Buffers kept between calls.  Every value of a traced call stays alive until its
# sweep, so a large one is fresh memory each call, and first writes to fresh pages
# cost a page fault per 4 KB: 250 us instead of 18 us for np.square of 10^5 doubles
# here.  Values of at least _POOL_MIN elements come from and go back to _VPOOL (by
# shape); adjoint blocks from and to _reservoir's spares (csrc/tape.c).  Both are
# used under the GIL only.
cdef dfd_tape _reservoir
dfd_tape_init(&_reservoir)
cdef dict _VPOOL = {}
cdef Py_ssize_t _vpool_bytes = 0
cdef enum:
    _POOL_MIN = 16384
    _VPOOL_MAX = 256 << 20


cdef object _vtake(tuple shape):
    global _vpool_bytes
    lst = _VPOOL.get(shape)
    if lst:
        a = lst.pop()
        _vpool_bytes -= a.nbytes
        return a
    return np.empty(shape)


cdef void _vgive(a):
    global _vpool_bytes
    if _vpool_bytes + a.nbytes > _VPOOL_MAX:
        return
    a.flags.writeable = True
    _VPOOL.setdefault(a.shape, []).append(a)
    _vpool_bytes += a.nbytes


# --- the tape -------------------------------------------------------------------------

cdef void _free_block(object cap) noexcept:
    free(PyCapsule_GetPointer(cap, NULL))


@cython.final
cdef class Tape:
    """The records of one traced call of f, and what they point to."""
    cdef dfd_tape t
    cdef list keep       # arrays the records point to
    cdef list py         # PY records: (adjoint, input nodes, output nodes)
    cdef list shapes     # per node: its shape
    cdef list pooled     # values taken from _VPOOL

    def __cinit__(self):
        dfd_tape_init(&self.t)
        dfd_tape_move_spares(&self.t, &_reservoir)
        self.keep = []
        self.py = []
        self.shapes = []
        self.pooled = []

    def __dealloc__(self):
        dfd_tape_clear(&self.t)
        dfd_tape_move_spares(&_reservoir, &self.t)
        dfd_tape_free(&self.t)
        self.keep = None
        self.py = None
        if self.pooled:
            for a in self.pooled:
                # no reference left but this list's and the loop's: nobody sees it
                if Py_REFCNT(a) == 2:
                    _vgive(a)
            self.pooled = None

    cdef Py_ssize_t node(self, value) except -1:
        cdef Py_ssize_t i = dfd_tape_node(&self.t, <size_t>cnp.PyArray_SIZE(value))
        if i < 0:
            raise MemoryError()
        self.keep.append(value)
        self.shapes.append(value.shape)
        return i

    cdef dfd_rec *push(self, int op, Py_ssize_t ny) except NULL:
        cdef dfd_rec *r = dfd_tape_push(&self.t)
        if r == NULL:
            raise MemoryError()
        r.op = op
        r.ny = ny
        return r

    cdef object adjoint(self, Py_ssize_t node, bint create):
        """The node's adjoint as an ndarray view of the C block (None if unused)."""
        cdef double *p = self.t.adj[node]
        if p == NULL:
            if not create:
                return None
            p = dfd_tape_adj(&self.t, node)
            if p == NULL:
                raise MemoryError()
        shape = self.shapes[node]
        cdef size_t n = self.t.size[node]
        if n == 0:
            return np.zeros(shape)
        return np.asarray(<double[:n]>p).reshape(shape)

    cdef run_py(self, Py_ssize_t j):
        adjoint, ins, outs = self.py[j]
        gs = [self.adjoint(o, False) for o in outs]
        if all(g is None for g in gs):
            return
        gs = [np.zeros(self.shapes[o]) if g is None else g.copy()
              for g, o in zip(gs, outs)]
        contribs = adjoint(gs)
        for node, c in zip(ins, contribs):
            if node < 0 or c is None:
                continue
            g = self.adjoint(node, True)
            np.add(g, np.reshape(c, g.shape), out=g)


    cpdef sweep(self, Py_ssize_t out, seed):
        """Adjoints of every node for the seed (f's adjoint) on node `out`; read them
        with `gradient`."""
        dfd_tape_clear(&self.t)
        cdef double *g = dfd_tape_adj(&self.t, out)
        if g == NULL:
            raise MemoryError()
        seed = _contiguous(seed)
        if cnp.PyArray_SIZE(seed) != <Py_ssize_t>self.t.size[out]:
            raise ValueError("the seed must have the result's size")
        memcpy(g, cnp.PyArray_DATA(seed), self.t.size[out] * sizeof(double))
        cdef size_t pos = self.t.nrec
        cdef int rc
        while True:
            with nogil:
                rc = dfd_tape_sweep(&self.t, &pos, out)
            if rc < 0:
                raise MemoryError()
            if rc == 0:
                return
            self.run_py(self.t.rec[pos].aux)

    cpdef gradient(self, Py_ssize_t node):
        """The node's adjoint as an array that takes over the C block (no copy)."""
        cdef double *g = self.t.adj[node]
        cdef cnp.npy_intp n = <cnp.npy_intp>self.t.size[node]
        if g == NULL or n == 0:
            return np.zeros(self.shapes[node])
        cap = PyCapsule_New(g, NULL, _free_block)
        self.t.adj[node] = NULL
        r = cnp.PyArray_SimpleNewFromData(1, &n, cnp.NPY_DOUBLE, g)
        Py_INCREF(cap)                   # PyArray_SetBaseObject steals a reference
        cnp.PyArray_SetBaseObject(<cnp.ndarray>r, cap)
        return r.reshape(self.shapes[node])

    @property
    def records(self):
        return self.t.nrec
