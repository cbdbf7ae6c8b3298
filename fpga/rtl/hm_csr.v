// CSR block: the register map (rtl/generated/hm_defs.vh, generated from
// fpga/src/regmap.rs), the connection / function / queue / region tables,
// the load balancer state and the counters. Soft reconfiguration = writes
// here. Lookups for the engine are combinational; the engine registers the
// static ones with a header's last beat and reads the queue choice in its
// DEC cycle.
`default_nettype none

module hm_csr #(
    parameter integer DW = 64,
    parameter integer AW = 10,
    parameter integer N_CONN = 16,
    parameter integer N_FUNC = 8,
    parameter integer N_QUEUE = 8,
    parameter integer N_REGION = 8,
    parameter integer QDEPTH_MAX = 8,
    parameter integer VARIANT_ID = 1
) (
    input  wire        clk,
    input  wire        rst,
    // CSR bus: one access per cycle; read data and result next cycle.
    input  wire        csr_valid,
    input  wire        csr_write,
    input  wire [11:0] csr_addr,
    input  wire [31:0] csr_wdata,
    output reg  [31:0] csr_rdata,
    output reg  [7:0]  csr_err,
    // Engine state.
    input  wire        eng_idle,
    output reg         enable,
    output reg  [4:0]  slot_shift,
    // Connection lookup.
    input  wire [15:0] lk_conn,
    output wire        conn_ok,
    output wire        conn_rpc,
    output wire        conn_mem,
    // Function lookup: enable (taken with the header), then the queue the
    // weighted round robin chooses (in the decode cycle).
    input  wire [15:0] lk_func_s,
    output wire        func_ok,
    input  wire [15:0] lk_func,
    output wire [7:0]  sel_queue,
    output wire        q_full,
    output wire [7:0]  q_tail,
    output wire [AW-1:0] q_taddr,  // word address of the tail slot
    // Region lookup.
    input  wire [7:0]  lk_region,
    output wire        reg_ok,
    output wire        reg_r,
    output wire        reg_w,
    output wire        reg_a,
    output wire [AW-1:0] reg_base,
    output wire [AW:0] reg_size,
    // Engine events.
    input  wire        ev_commit,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [15:0] ev_func,   // valid ids only: the engine commits after func_ok
    input  wire [7:0]  ev_queue,  // always < N_QUEUE (FUNC writes are checked)
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire        ev_done,
    input  wire [7:0]  ev_op,
    input  wire [7:0]  ev_status,
    input  wire        ev_suppressed,
    input  wire        ev_swapped
);
`include "generated/hm_defs.vh"

    localparam integer CW = (N_CONN > 1) ? $clog2(N_CONN) : 1;
    localparam integer FW = (N_FUNC > 1) ? $clog2(N_FUNC) : 1;
    localparam integer QW = (N_QUEUE > 1) ? $clog2(N_QUEUE) : 1;
    localparam integer RW = (N_REGION > 1) ? $clog2(N_REGION) : 1;
    localparam integer LB = $clog2(DW / 8);
    localparam integer SLOT_SHIFT_MAX = (AW < 16 - LB) ? AW : 16 - LB;
    localparam [31:0] N_QUEUE_W = N_QUEUE;

    // Tables (power-of-two sized; entries >= N are never written).
    reg       c_valid [0:(1<<CW)-1];
    reg       c_rpc   [0:(1<<CW)-1];
    reg       c_mem   [0:(1<<CW)-1];
    reg       f_en    [0:(1<<FW)-1];
    reg [7:0] f_first [0:(1<<FW)-1];
    reg [7:0] f_cnt   [0:(1<<FW)-1];
    reg [7:0] f_cur   [0:(1<<FW)-1];
    reg [7:0] f_used  [0:(1<<FW)-1];
    reg [AW-1:0] q_base_r [0:(1<<QW)-1];
    reg [7:0] q_depth [0:(1<<QW)-1];
    reg [7:0] q_weight[0:(1<<QW)-1];
    reg [7:0] q_head  [0:(1<<QW)-1];
    reg [7:0] q_count [0:(1<<QW)-1];
    // Kept up to date with the state above so that the engine's decode
    // reads them without arithmetic: a function's current queue, a
    // queue's tail slot, its word address, whether it is full.
    reg [7:0] f_sel   [0:(1<<FW)-1];
    reg [7:0] q_tail_r[0:(1<<QW)-1];
    reg [AW-1:0] q_taddr_r [0:(1<<QW)-1];
    reg       q_full_r[0:(1<<QW)-1];
    reg [AW-1:0] r_base [0:(1<<RW)-1];
    reg [AW:0] r_size [0:(1<<RW)-1];
    reg [3:0] r_perm  [0:(1<<RW)-1];
    // Counters that exist: the named ones and one per error status.
    reg [31:0] cnt_ev  [0:HM_CNT_COUNT-1];
    reg [31:0] cnt_err [1:HM_ST_COUNT-1];

    // ---- lookups ----
    wire          c_in = {16'd0, lk_conn} < N_CONN;
    wire [CW-1:0] ci = lk_conn[CW-1:0];
    assign conn_ok  = c_in && c_valid[ci];
    assign conn_rpc = c_rpc[ci];
    assign conn_mem = c_mem[ci];

    wire          f_in = {16'd0, lk_func_s} < N_FUNC;
    wire [FW-1:0] fs = lk_func_s[FW-1:0];
    assign func_ok = f_in && f_en[fs] && f_cnt[fs] != 8'd0;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [15:0]   lk_func_d = lk_func; // only ids that passed func_ok matter
    /* verilator lint_on UNUSEDSIGNAL */
    wire [FW-1:0] fi = lk_func_d[FW-1:0];
    assign sel_queue = f_sel[fi];
    wire [QW-1:0] qi = sel_queue[QW-1:0];
    assign q_full = q_full_r[qi];
    assign q_tail = q_tail_r[qi];
    assign q_taddr = q_taddr_r[qi];
    wire [AW-1:0] slot_words = {{(AW-1){1'b0}}, 1'b1} << slot_shift; // 0 when a slot is the memory

    wire          r_in = {24'd0, lk_region} < N_REGION;
    wire [RW-1:0] ri = lk_region[RW-1:0];
    assign reg_ok   = r_in && r_perm[ri][0];
    assign reg_r    = r_perm[ri][1];
    assign reg_w    = r_perm[ri][2];
    assign reg_a    = r_perm[ri][3];
    assign reg_base = r_base[ri];
    assign reg_size = r_size[ri];

    // ---- address decode ----
    wire        aligned = csr_addr[1:0] == 2'b00;
    wire [5:0]  a_idx6 = csr_addr[7:2];      // CONN, FUNC, COUNTER (5 bits)
    wire [3:0]  a_q    = csr_addr[7:4];
    wire [5:0]  a_r    = csr_addr[9:4];
    wire [1:0]  a_sub  = csr_addr[3:2];
    wire is_scalar = csr_addr[11:8] == 4'h0;
    wire is_conn   = csr_addr[11:8] == 4'h1 && aligned && {26'd0, a_idx6} < N_CONN;
    wire is_func   = csr_addr[11:8] == 4'h2 && aligned && {26'd0, a_idx6} < N_FUNC;
    wire is_queue  = csr_addr[11:8] == 4'h3 && aligned && {28'd0, a_q} < N_QUEUE;
    wire is_region = csr_addr[11:10] == 2'b01 && aligned && a_sub != 2'd3 && {26'd0, a_r} < N_REGION;
    wire is_count  = csr_addr[11:7] == 5'b10000 && aligned;
    wire [CW-1:0] wc = a_idx6[CW-1:0];
    wire [FW-1:0] wf = a_idx6[FW-1:0];
    wire [QW-1:0] wq = a_q[QW-1:0];
    wire [RW-1:0] wr = a_r[RW-1:0];

    reg [31:0] rd_val;
    reg        rd_ok;
    integer    k;
    always @* begin
        rd_val = 32'd0;
        rd_ok = 1'b1;
        if (is_scalar) begin
            case (csr_addr[7:0])
                HM_REG_ID[7:0]:      rd_val = HM_ID_VALUE;
                HM_REG_VERSION[7:0]: rd_val = HM_MAP_VERSION;
                HM_REG_CTRL[7:0]:    rd_val = {31'd0, enable};
                HM_REG_STATUS[7:0]:  rd_val = {16'd0, csr_err, 7'd0, eng_idle};
                HM_REG_CAPS0[7:0]:   rd_val = {VARIANT_ID[7:0], QDEPTH_MAX[7:0], AW[7:0], DW[10:3]};
                HM_REG_CAPS1[7:0]:   rd_val = {N_REGION[7:0], N_QUEUE[7:0], N_FUNC[7:0], N_CONN[7:0]};
                HM_REG_SLOT_SHIFT[7:0]: rd_val = {27'd0, slot_shift};
                default: rd_ok = 1'b0;
            endcase
        end else if (is_conn) begin
            rd_val = {29'd0, c_mem[wc], c_rpc[wc], c_valid[wc]};
        end else if (is_func) begin
            rd_val = {8'd0, f_cnt[wf], f_first[wf], 7'd0, f_en[wf]};
        end else if (is_queue) begin
            case (a_sub)
                2'd0: rd_val = {{(32-AW){1'b0}}, q_base_r[wq]};
                2'd1: rd_val = {24'd0, q_depth[wq]};
                2'd2: rd_val = {24'd0, q_weight[wq]};
                default: rd_val = {16'd0, q_count[wq], q_head[wq]};
            endcase
        end else if (is_region) begin
            case (a_sub)
                2'd0: rd_val = {{(32-AW){1'b0}}, r_base[wr]};
                2'd1: rd_val = {{(31-AW){1'b0}}, r_size[wr]};
                default: rd_val = {28'd0, r_perm[wr]};
            endcase
        end else if (is_count) begin
            rd_val = 32'd0;
            for (k = 0; k < HM_CNT_COUNT; k = k + 1)
                if ({27'd0, a_idx6[4:0]} == k) rd_val = cnt_ev[k];
            for (k = 1; k < HM_ST_COUNT; k = k + 1)
                if ({27'd0, a_idx6[4:0]} == HM_CNT_ERR_BASE + k) rd_val = cnt_err[k];
        end else begin
            rd_ok = 1'b0;
        end
    end

    // Value checks of writes. Written as "high bits zero" plus a short
    // compare rather than 32-bit compares (carry chains): each write
    // strobe below depends only on its own check, which keeps the CSR bus
    // off the queue-state paths.
    localparam [31:0] QDEPTH_MAX_W = QDEPTH_MAX;
    localparam [31:0] SLOT_SHIFT_MAX_W = SLOT_SHIFT_MAX;
    wire hi0_8  = csr_wdata[31:8] == 24'd0;
    wire hi0_aw = csr_wdata[31:AW] == {(32-AW){1'b0}};
    wire ok_shift  = csr_wdata[31:5] == 27'd0 && csr_wdata[4:0] <= SLOT_SHIFT_MAX_W[4:0];
    wire ok_func   = {1'b0, csr_wdata[15:8]} + {1'b0, csr_wdata[23:16]} <= N_QUEUE_W[8:0];
    wire ok_addr   = hi0_aw;                                   // < MEM_WORDS
    wire ok_depth  = hi0_8 && csr_wdata[7:0] <= QDEPTH_MAX_W[7:0];
    wire ok_weight = hi0_8 && csr_wdata[7:0] != 8'd0;
    wire ok_size   = hi0_aw || (csr_wdata[31:AW+1] == {(31-AW){1'b0}}
                                && csr_wdata[AW-1:0] == {AW{1'b0}}); // <= MEM_WORDS
    wire ok_pop    = q_count[wq] != 8'd0;

    // Result of a write, computed before it takes effect.
    reg [7:0] wr_err;
    always @* begin
        wr_err = HM_CSR_NONE;
        if (is_scalar) begin
            case (csr_addr[7:0])
                HM_REG_CTRL[7:0]: wr_err = HM_CSR_NONE;
                HM_REG_SLOT_SHIFT[7:0]: wr_err = ok_shift ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                HM_REG_ID[7:0], HM_REG_VERSION[7:0], HM_REG_STATUS[7:0], HM_REG_CAPS0[7:0],
                HM_REG_CAPS1[7:0]: wr_err = HM_CSR_READ_ONLY;
                default: wr_err = HM_CSR_BAD_ADDRESS;
            endcase
        end else if (is_conn) begin
            wr_err = HM_CSR_NONE;
        end else if (is_func) begin
            wr_err = ok_func ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
        end else if (is_queue) begin
            case (a_sub)
                2'd0: wr_err = ok_addr ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                2'd1: wr_err = ok_depth ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                2'd2: wr_err = ok_weight ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                default: wr_err = ok_pop ? HM_CSR_NONE : HM_CSR_QUEUE_EMPTY;
            endcase
        end else if (is_region) begin
            case (a_sub)
                2'd0: wr_err = ok_addr ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                2'd1: wr_err = ok_size ? HM_CSR_NONE : HM_CSR_BAD_VALUE;
                default: wr_err = HM_CSR_NONE;
            endcase
        end else if (is_count) begin
            wr_err = HM_CSR_READ_ONLY;
        end else begin
            wr_err = HM_CSR_BAD_ADDRESS;
        end
    end

    // Write strobes, each the same as "wr_err is NONE" for its register.
    wire wr_any   = csr_valid && csr_write;
    wire wr_ctrl  = wr_any && is_scalar && csr_addr[7:0] == HM_REG_CTRL[7:0];
    wire wr_shift = wr_any && is_scalar && csr_addr[7:0] == HM_REG_SLOT_SHIFT[7:0] && ok_shift;
    wire wr_conn  = wr_any && is_conn;
    wire wr_func  = wr_any && is_func && ok_func;
    wire wr_qbase = wr_any && is_queue && a_sub == 2'd0 && ok_addr;
    wire wr_qdep  = wr_any && is_queue && a_sub == 2'd1 && ok_depth;
    wire wr_qwt   = wr_any && is_queue && a_sub == 2'd2 && ok_weight;
    wire wr_qpop  = wr_any && is_queue && a_sub == 2'd3 && ok_pop;
    wire wr_rbase = wr_any && is_region && a_sub == 2'd0 && ok_addr;
    wire wr_rsize = wr_any && is_region && a_sub == 2'd1 && ok_size;
    wire wr_rperm = wr_any && is_region && a_sub == 2'd2;

    // Named counter a successful packet increments.
    reg [4:0] ok_idx;
    always @* begin
        case (ev_op)
            HM_OP_RPC:   ok_idx = HM_CNT_RPC_OK[4:0];
            HM_OP_READ:  ok_idx = HM_CNT_READ_OK[4:0];
            HM_OP_WRITE: ok_idx = HM_CNT_WRITE_OK[4:0];
            default:     ok_idx = HM_CNT_CAS_OK[4:0];
        endcase
    end
    wire ev_ok = ev_status == HM_ST_OK;

    wire [FW-1:0] ef = ev_func[FW-1:0];
    wire [QW-1:0] eq = ev_queue[QW-1:0];
    wire [7:0] used_next = f_used[ef] + 8'd1;
    wire [7:0] cur_next = (f_cur[ef] + 8'd1 >= f_cnt[ef]) ? 8'd0 : f_cur[ef] + 8'd1;

    // A queue's next count and full flag: the candidates (push, pop,
    // neither) come from registers only; the events just pick one, so the
    // engine's commit and the CSR bus reach them through a mux, not an
    // adder and a compare.
    reg [7:0] q_count_next [0:(1<<QW)-1];
    reg       q_full_next  [0:(1<<QW)-1];
    reg       q_push, q_pop;
    reg [7:0] q_inc, q_dec;
    integer j;
    always @* begin
        for (j = 0; j < (1 << QW); j = j + 1) begin
            q_push = ev_commit && eq == j[QW-1:0];
            q_pop = wr_qpop && wq == j[QW-1:0];
            q_inc = q_count[j] + 8'd1;
            q_dec = q_count[j] - 8'd1;
            if (q_push && !q_pop) begin
                q_count_next[j] = q_inc;
                q_full_next[j] = q_inc >= q_depth[j];
            end else if (q_pop && !q_push) begin
                q_count_next[j] = q_dec;
                q_full_next[j] = q_dec >= q_depth[j];
            end else begin
                q_count_next[j] = q_count[j];
                q_full_next[j] = q_count[j] >= q_depth[j];
            end
        end
    end

    integer i;
    always @(posedge clk) begin
        if (rst) begin
            enable <= 1'b0;
            slot_shift <= HM_REG_SLOT_SHIFT_RESET[4:0];
            csr_err <= HM_CSR_NONE;
            csr_rdata <= 32'd0;
            for (i = 0; i < (1 << CW); i = i + 1) begin
                c_valid[i] <= 1'b0; c_rpc[i] <= 1'b0; c_mem[i] <= 1'b0;
            end
            for (i = 0; i < (1 << FW); i = i + 1) begin
                f_en[i] <= 1'b0; f_first[i] <= 8'd0; f_cnt[i] <= 8'd0; f_cur[i] <= 8'd0; f_used[i] <= 8'd0;
                f_sel[i] <= 8'd0;
            end
            for (i = 0; i < (1 << QW); i = i + 1) begin
                q_base_r[i] <= {AW{1'b0}}; q_depth[i] <= 8'd0; q_weight[i] <= 8'd1;
                q_head[i] <= 8'd0; q_count[i] <= 8'd0;
                q_tail_r[i] <= 8'd0; q_taddr_r[i] <= {AW{1'b0}}; q_full_r[i] <= 1'b1;
            end
            for (i = 0; i < (1 << RW); i = i + 1) begin
                r_base[i] <= {AW{1'b0}}; r_size[i] <= {(AW+1){1'b0}}; r_perm[i] <= 4'd0;
            end
            for (i = 0; i < HM_CNT_COUNT; i = i + 1) cnt_ev[i] <= 32'd0;
            for (i = 1; i < HM_ST_COUNT; i = i + 1) cnt_err[i] <= 32'd0;
        end else begin
            if (csr_valid) begin
                csr_err <= csr_write ? wr_err : (rd_ok ? HM_CSR_NONE : HM_CSR_BAD_ADDRESS);
                if (!csr_write) csr_rdata <= rd_ok ? rd_val : 32'd0;
            end
            if (wr_ctrl) enable <= csr_wdata[0];
            if (wr_shift) slot_shift <= csr_wdata[4:0];
            if (wr_conn) begin
                c_valid[wc] <= csr_wdata[0]; c_rpc[wc] <= csr_wdata[1]; c_mem[wc] <= csr_wdata[2];
            end
            // Load balancer: a commit advances the function's round robin;
            // a FUNC write resets it.
            if (ev_commit) begin
                if (used_next >= q_weight[eq]) begin
                    f_used[ef] <= 8'd0;
                    f_cur[ef] <= cur_next;
                    f_sel[ef] <= f_first[ef] + cur_next;
                end else begin
                    f_used[ef] <= used_next;
                end
            end
            if (wr_func) begin
                f_en[wf] <= csr_wdata[0]; f_first[wf] <= csr_wdata[15:8]; f_cnt[wf] <= csr_wdata[23:16];
                f_cur[wf] <= 8'd0; f_used[wf] <= 8'd0; f_sel[wf] <= csr_wdata[15:8];
            end
            // Queues: commit pushes, a Q_STATUS write pops, a base/depth
            // write or a SLOT_SHIFT write flushes.
            for (i = 0; i < (1 << QW); i = i + 1) begin
                if (wr_shift || ((wr_qbase || wr_qdep) && wq == i[QW-1:0])) begin
                    q_head[i] <= 8'd0;
                    q_count[i] <= 8'd0;
                    q_tail_r[i] <= 8'd0;
                    q_taddr_r[i] <= (wr_qbase && wq == i[QW-1:0])
                                    ? csr_wdata[AW-1:0] : q_base_r[i];
                    q_full_r[i] <= ((wr_qdep && wq == i[QW-1:0])
                                    ? csr_wdata[7:0] : q_depth[i]) == 8'd0;
                end else begin
                    if (wr_qpop && wq == i[QW-1:0])
                        q_head[i] <= (q_head[i] + 8'd1 >= q_depth[i]) ? 8'd0 : q_head[i] + 8'd1;
                    q_count[i] <= q_count_next[i];
                    q_full_r[i] <= q_full_next[i];
                    // A push moves the tail; a pop moves the head, not the tail.
                    if (ev_commit && eq == i[QW-1:0]) begin
                        if (q_tail_r[i] + 8'd1 >= q_depth[i]) begin
                            q_tail_r[i] <= 8'd0;
                            q_taddr_r[i] <= q_base_r[i];
                        end else begin
                            q_tail_r[i] <= q_tail_r[i] + 8'd1;
                            q_taddr_r[i] <= q_taddr_r[i] + slot_words;
                        end
                    end
                end
            end
            if (wr_qbase) q_base_r[wq] <= csr_wdata[AW-1:0];
            if (wr_qdep) q_depth[wq] <= csr_wdata[7:0];
            if (wr_qwt) q_weight[wq] <= csr_wdata[7:0];
            if (wr_rbase) r_base[wr] <= csr_wdata[AW-1:0];
            if (wr_rsize) r_size[wr] <= csr_wdata[AW:0];
            if (wr_rperm) r_perm[wr] <= csr_wdata[3:0];
            // Counters.
            if (wr_ctrl && csr_wdata[1]) begin
                for (i = 0; i < HM_CNT_COUNT; i = i + 1) cnt_ev[i] <= 32'd0;
                for (i = 1; i < HM_ST_COUNT; i = i + 1) cnt_err[i] <= 32'd0;
            end else if (ev_done) begin
                for (i = 0; i < HM_CNT_COUNT; i = i + 1) begin
                    if (i == HM_CNT_RX_PACKETS
                        || (i == HM_CNT_TX_RESPONSES && !ev_suppressed)
                        || (ev_ok && i == {27'd0, ok_idx})
                        || (i == HM_CNT_CAS_SWAPPED && ev_swapped))
                        cnt_ev[i] <= cnt_ev[i] + 32'd1;
                end
                for (i = 1; i < HM_ST_COUNT; i = i + 1)
                    if (ev_status == i[7:0]) cnt_err[i] <= cnt_err[i] + 32'd1;
            end
        end
    end
endmodule

`default_nettype wire
